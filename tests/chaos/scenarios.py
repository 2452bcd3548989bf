"""The faults, one per scenario. Each injects its fault into the running product, returns once
the fault is over (the restart launched, the proxy open again, the provider healthy) and says
what it did. `rng` (seeded by the runner) makes every choice, so a seed repeats a scenario."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.chaos.runner import Chaos

WORKERS = ("compiler", "test-runner", "publisher")
Inject = Callable[["Chaos", random.Random], list[str]]


def kill(service: str | None = None) -> Inject:
    """`kill -9` of one service (the rng's choice unless named), then its restart."""

    def inject(chaos: Chaos, rng: random.Random) -> list[str]:
        name = service or rng.choice(sorted(chaos.stack.processes))
        chaos.stack.processes[name].kill()
        chaos.stack.start(name, wait=False)
        return [f"kill -9 {name}, restart"]

    return inject


def rolling_deploy(chaos: Chaos, rng: random.Random) -> list[str]:
    """SIGTERM to every worker at once, each drains, then all start again."""
    processes = [chaos.stack.processes[name] for name in WORKERS]
    for process in processes:
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)
    codes = [process.proc.wait(60) for process in processes if process.proc is not None]
    for name in WORKERS:
        chaos.stack.start(name, wait=False)
    return [f"SIGTERM {', '.join(WORKERS)} (exit {codes}), restart"]


def nats_restart(chaos: Chaos, rng: random.Random) -> list[str]:
    down = rng.uniform(0.5, 2.0)
    chaos.nats.stop()
    time.sleep(down)
    chaos.nats.start()
    return [f"NATS stopped {down:.1f} s, restarted"]


def postgres_away(seconds: float) -> Inject:
    """Every database connection dropped, and new ones refused for `seconds`."""

    def inject(chaos: Chaos, rng: random.Random) -> list[str]:
        chaos.proxy.cut()
        time.sleep(seconds)
        chaos.proxy.restore()
        what = "restarted" if seconds < 10 else "unreachable"
        return [f"PostgreSQL {what}: connections dropped, refused {seconds:g} s"]

    return inject


def provider_trouble(chaos: Chaos, rng: random.Random) -> list[str]:
    """The AI provider failing for a while, each way in turn: 500s, 429 with Retry-After,
    answers slower than the client's timeout, then slow answers."""
    fake = chaos.provider
    phases: list[tuple[str, Callable[[], None]]] = [
        ("500s", lambda: fake.fail(500, times=10**6)),
        ("429 Retry-After 2", lambda: fake.fail(429, times=10**6, headers={"Retry-After": "2"})),
        ("timeouts", lambda: fake.respond(times=10**6, latency=4.0)),  # AI_TIMEOUT_SECONDS=3
        ("slow 1.5 s answers", lambda: fake.respond(times=10**6, latency=1.5)),
    ]
    done = []
    for what, start in phases:
        seconds = rng.uniform(2.0, 4.0)
        start()
        time.sleep(seconds)
        fake.recover()
        done.append(f"{what} {seconds:.1f} s")
    return [f"provider {', '.join(done)}"]


SCENARIOS: dict[str, Inject] = {
    "kill-any": kill(),
    "kill-gateway": kill("gateway"),
    "kill-compiler": kill("compiler"),
    "kill-test-runner": kill("test-runner"),
    "kill-publisher": kill("publisher"),
    "rolling-deploy": rolling_deploy,
    "provider-failing": provider_trouble,
    "nats-restart": nats_restart,
    "postgres-restart": postgres_away(2),
    "postgres-away-60s": postgres_away(60),
}
