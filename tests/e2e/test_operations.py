"""What an operator runs: the `studio` command, configuration errors, and `make run`'s supervisor."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from tests.support import infra
from tests.support.fixtures import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def run(
    argv: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_token_create_prints_a_working_token_as_its_last_line(stack: Stack) -> None:
    result = run(
        ["studio", "token", "create", "--email", "Carol@Example.com"], stack.env("gateway")
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("sas_")
    assert "carol@example.com" in result.stdout
    with stack.client(token) as client:
        assert client.get("/api/v1/agents").status_code == 200


def test_token_revoke_makes_the_token_unusable_at_once(stack: Stack) -> None:
    env = stack.env("gateway")
    token = run(
        ["studio", "token", "create", "--email", "dave@example.com"], env
    ).stdout.splitlines()[-1]
    with stack.client(token) as client:
        assert client.get("/api/v1/agents").status_code == 200  # now in the gateway's token cache
    revoked = run(
        ["studio", "token", "revoke", "--email", "dave@example.com", "--prefix", token[:10]], env
    )
    assert revoked.returncode == 0, revoked.stderr
    with stack.client(token) as client:
        assert client.get("/api/v1/agents").status_code == 401
    another = run(
        ["studio", "token", "create", "--email", "dave@example.com"], env
    ).stdout.splitlines()[-1]
    with stack.client(another) as client:
        audit = client.get("/api/v1/me/audit").json()["items"]
    assert [(e["action"], e["user_agent"]) for e in audit] == [
        ("token_created", "studio CLI"),
        ("token_revoked", "studio CLI"),
        ("token_created", "studio CLI"),
    ]
    assert audit[1]["details"] == {"prefix": token[:10]}


@pytest.mark.parametrize(
    ("argv", "env_overrides", "message"),
    [
        (
            ["studio", "token", "create", "--email", "not-an-email"],
            {},
            "'not-an-email' is not an email address",
        ),
        (
            ["studio", "token", "create", "--email", "a@example.com"],
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"},
            "is unreachable",
        ),
        (
            [sys.executable, "-m", "compiler"],
            {"NATS_URL": "http://127.0.0.1:4222"},
            "setting NATS_URL is invalid",
        ),
        (
            [sys.executable, "-m", "compiler"],
            {"COMPILER_HTTP_PORT": "eighty"},
            "setting COMPILER_HTTP_PORT is invalid",
        ),
        (
            [sys.executable, "-m", "gateway"],
            {"NATS_URL": "nats://127.0.0.1:1"},
            "NATS at nats://127.0.0.1:1 is unreachable",
        ),
        (
            [sys.executable, "-m", "gateway"],
            {"SMTP_URL": "", "STUDIO_ENV": "production"},
            "setting GATEWAY_SMTP_URL / SMTP_URL is invalid: Value error, must be set outside "
            "development",
        ),
    ],
)
def test_bad_settings_end_in_one_clear_line_without_a_traceback(
    stack: Stack, argv: list[str], env_overrides: dict[str, str], message: str
) -> None:
    env = stack.env("compiler", **env_overrides)
    env["GATEWAY_HTTP_PORT"] = str(infra.free_port())
    result = run(argv, env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_devserver_runs_all_services_and_restarts_one_that_dies(
    isolated_stack: Callable[..., Stack], tmp_path: object
) -> None:
    stack = isolated_stack()
    ports = {
        name: infra.free_port() for name in ("GATEWAY", "COMPILER", "TEST_RUNNER", "PUBLISHER")
    }
    env = stack.env("gateway", **{f"{name}_HTTP_PORT": str(port) for name, port in ports.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.devserver"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        for port in ports.values():
            wait_ready(f"http://127.0.0.1:{port}")
        compiler_pid = child_pid(f"http://127.0.0.1:{ports['COMPILER']}")
        subprocess.run(["kill", "-9", str(compiler_pid)], check=True)
        wait_ready(f"http://127.0.0.1:{ports['COMPILER']}", after_pid=compiler_pid)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        lines = out.splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    died = [e for e in events if e["event"] == "devserver.service_died"]
    assert [(e["service"], e["exit_code"]) for e in died] == [("compiler", -9)]
    assert proc.returncode == 0
    assert events[-1]["event"] == "devserver.stopped"
    stopped = {
        e["service"]
        for e in events
        if e["event"].endswith(".stopped") and e["service"] != "devserver"
    }
    assert stopped == {"gateway", "compiler", "test-runner", "publisher"}


def wait_ready(url: str, timeout: float = 60, after_pid: int | None = None) -> None:
    """Wait until the service at `url` is ready (and, with `after_pid`, served by a new process)."""

    def ready_pid() -> int | None:
        if httpx.get(f"{url}/readyz", timeout=1).status_code != 200:
            return None
        return child_pid(url) if after_pid is not None else 0

    eventually(
        ready_pid,
        lambda pid: pid is not None and pid != after_pid,
        timeout=timeout,
        interval=0.1,
        what=f"{url} being ready",
        # Between the old process and the new one nothing listens, or `ss` finds no owner yet.
        tolerate=(httpx.TransportError, IndexError),
    )


def child_pid(url: str) -> int:
    """The pid of the process serving `url`, from the standard process metrics it exports."""
    for line in httpx.get(f"{url}/metrics", timeout=2).text.splitlines():
        if line.startswith("process_start_time_seconds"):
            break
    port = url.rsplit(":", 1)[1]
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split("pid=")[1].split(",")[0])
