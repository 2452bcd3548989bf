"""What the benchmarks share: the machine's description and a gateway + compiler to measure."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support import infra
from tests.support.fixtures import Stack


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; "
        f"{speed()}"
    )


def speed() -> str:
    """How fast this machine is as a benchmark starts: a step of a pure-Python loop and a system
    call (best of three). The same code has spent two to three times the CPU per unit of work on
    one VM as on another of the same description (bench/README), so a figure comes with these."""

    def loop() -> float:
        started, total = time.perf_counter(), 0
        for i in range(LOOP_STEPS):
            total += i
        return (time.perf_counter() - started) / LOOP_STEPS

    def calls() -> float:
        started = time.perf_counter()
        for _ in range(SYSTEM_CALLS):
            os.getppid()
        return (time.perf_counter() - started) / SYSTEM_CALLS

    step = min(loop() for _ in range(3))
    call = min(calls() for _ in range(3))
    return f"a Python loop step {step * 1e9:.0f} ns, a system call {call * 1e6:.2f} µs"


LOOP_STEPS = 2_000_000
SYSTEM_CALLS = 100_000


@contextmanager
def running_stack(
    services: Sequence[str] = ("compiler", "gateway"), extra_env: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """`services` (by default a compiler and a gateway), started in that order, on a fresh database
    and subject root of the local servers; `extra_env` goes to every service started by the stack,
    including those started later with `stack.start`."""
    postgres = os.environ.get("TEST_DATABASE_URL", infra.DEFAULT_TEST_DATABASE_URL)
    nats_url = os.environ.get("TEST_NATS_URL", infra.DEFAULT_TEST_NATS_URL)
    root = f"b{uuid.uuid4().hex[:10]}"
    with infra.fresh_database(postgres) as url, tempfile.TemporaryDirectory() as logs:
        infra.migrate_all(url)
        # A benchmark's few users would soon meet their rate limits: they measure the product.
        env = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_ENABLED": "false", **(extra_env or {})}
        stack = Stack(url, nats_url, root, Path(logs), env)
        try:
            for service in services:
                stack.start(service)
            yield stack
        finally:
            stack.stop_all()
            infra.delete_streams(nats_url, root)


@contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, what: str
) -> Iterator[tuple[str, int]]:
    """`command` started as an HTTP server on `port`: its URL and pid once it listens."""
    proc = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not infra.listening(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
