"""docker-compose.yml and the Dockerfile, checked without a Docker engine: what comes up, in what
order, with which image, healthcheck and settings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import (
    PACKAGES,
    PORTS,
    ROOT,
    SETTINGS,
    settings_error,
    tool,
    unknown_settings,
)

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = tuple(SETTINGS)
INFRASTRUCTURE = ("nats", "postgres", "redis", "mailpit")
OBSERVABILITY = ("otel-collector", "jaeger", "prometheus", "grafana")
# Started, never waited on for health: their images have nothing to run a probe with, and nothing
# needs more than their being started.
WITHOUT_HEALTHCHECK = {"migrate", "otel-collector", "jaeger"}


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: write environment as a mapping"
    return {str(k): str(v) for k, v in env.items()}


def test_the_whole_product_is_there() -> None:
    assert set(SERVICES) == {*INFRASTRUCTURE, "migrate", *APP_SERVICES, *OBSERVABILITY}


@pytest.mark.parametrize("service", [*INFRASTRUCTURE, *OBSERVABILITY])
def test_third_party_images_are_pinned_to_a_version(service: str) -> None:
    image = SERVICES[service]["image"]
    tag = image.partition(":")[2]
    assert re.search(r"\d", tag), f"{service}: {image} is not pinned to a version"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_runs_the_one_image_with_its_own_command(service: str) -> None:
    spec = SERVICES[service]
    assert spec["image"] == SERVICES["migrate"]["image"]
    assert SERVICES["migrate"]["build"] == "."
    assert spec["command"] == ["python", "-m", PACKAGES[service]]


@pytest.mark.parametrize("service", [*APP_SERVICES, "migrate"])
def test_the_product_runs_unprivileged_on_a_read_only_root(service: str) -> None:
    spec = SERVICES[service]
    assert spec["user"] == "10001:10001"
    assert spec["read_only"] is True
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]


@pytest.mark.parametrize("service", sorted(set(SERVICES) - WITHOUT_HEALTHCHECK))
def test_everything_waited_on_has_a_healthcheck(service: str) -> None:
    check = SERVICES[service]["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["retries"] >= 3


@pytest.mark.parametrize("service", APP_SERVICES)
def test_a_service_is_healthy_when_its_own_readyz_answers(service: str) -> None:
    probe = " ".join(SERVICES[service]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{PORTS[service]}/readyz" in probe


def test_the_start_order_waits_on_health_and_on_the_migrations() -> None:
    assert SERVICES["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for service in APP_SERVICES:
        needs = SERVICES[service]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, service
        assert needs["postgres"] == {"condition": "service_healthy"}, service
        assert needs["nats"] == {"condition": "service_healthy"}, service
    assert SERVICES["gateway"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert SERVICES["gateway"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert SERVICES["grafana"]["depends_on"]["prometheus"] == {"condition": "service_healthy"}
    for service, spec in SERVICES.items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{service} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck"


def test_the_migration_step_migrates_every_schema_once() -> None:
    script = SERVICES["migrate"]["command"][-1]
    for package in PACKAGES.values():
        assert f"python -m {package} migrate" in script


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_setting_passed_is_one_the_service_reads_and_accepts(service: str) -> None:
    env = environment(service)
    assert unknown_settings(service, env) == []
    assert settings_error(service, env) is None


def test_the_migration_step_passes_only_settings_every_service_reads() -> None:
    env = environment("migrate")
    for service in APP_SERVICES:
        assert unknown_settings(service, env) == [], service
        assert settings_error(service, env) is None


def test_the_settings_check_catches_a_misspelt_or_foreign_setting() -> None:
    assert unknown_settings("compiler", {"NATS_URL": "x", "NAT_URL": "y"}) == ["NAT_URL"]
    assert unknown_settings("compiler", {"GATEWAY_MAX_SPEC_BYTES": "1"}) == [
        "GATEWAY_MAX_SPEC_BYTES"
    ]
    assert unknown_settings("gateway", {"GATEWAY_MAX_SPEC_BYTES": "1"}) == []
    assert "HTTP_PORT" in str(settings_error("compiler", {"HTTP_PORT": "eighty"}))


def test_files_mounted_into_containers_exist_in_the_repository() -> None:
    for service, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{service} mounts missing {source}"


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_non_root_user_with_the_gateway_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert 'CMD ["python", "-m", "gateway"]' in runtime
    copied = re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.MULTILINE)
    for source in copied:
        assert (ROOT / source).exists(), f"the Dockerfile copies missing {source}"
    # The web UI is built in a stage of its own, and only its output reaches the runtime image.
    assert "COPY --from=web /web/dist /app/web/dist" in runtime


def test_the_build_context_keeps_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1 :], "the context is an allow-list after '*'"
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "libs", "services", "web"}
    assert "web/dist/" in ignored  # built in the image, never copied from the machine
    assert not any(Path(ROOT / a).is_symlink() for a in allowed)
