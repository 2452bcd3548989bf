"""The product's services as real processes, for end-to-end tests: start, wait ready, kill -9, restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.mail import shared_server
from tests.support.waiting import eventually


class ServiceProcess:
    def __init__(self, package: str, env: dict[str, str], port: int, log_dir: Path) -> None:
        self.package = package
        self.env = env
        self.port = port
        self.log_path = log_dir / f"{package}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.package], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> httpx.Response:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.package} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            return httpx.get(f"{self.url}/readyz", timeout=1)

        try:
            eventually(
                ready,
                lambda response: response.status_code == 200,
                timeout=timeout,
                what=f"{self.package} being ready",
                tolerate=(httpx.TransportError,),
            )
        except AssertionError as exc:
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs, as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the graceful shutdown; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def service_env(database_url: str, nats_url: str, root: str, **extra: str) -> dict[str, str]:
    prefixes = ("GATEWAY_", "COMPILER_", "TEST_RUNNER_", "PUBLISHER_", "STUDIO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        {
            "DATABASE_URL": database_url,
            "NATS_URL": nats_url,
            "NATS_SUBJECT_ROOT": root,
            "STUDIO_ENV": "test",
            "LOG_LEVEL": "INFO",
            "SHUTDOWN_GRACE_SECONDS": "10",
            # Outside development the gateway needs a mail server: the tests' own, reading what
            # it receives.
            "SMTP_URL": shared_server().url,
            **extra,
        }
    )
    return env
