"""The chaos scenario runner: the whole product as separate processes, a workload through its HTTP
API, one fault per scenario at a seeded random moment, then the invariants checked.

Run the long version with `make chaos` (or `uv run python -m tests.chaos.runner [--seed N]
[--cases N] [scenario ...]`); the bounded one runs in `make test` (tests/chaos/test_chaos.py).
The seed is printed first: the same seed gives the same choices (which service, when) again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.chaos import invariants
from tests.chaos.faults import PrivateNats, TcpProxy, postgres_proxy, private_nats
from tests.chaos.scenarios import SCENARIOS
from tests.chaos.workload import Workload
from tests.support import infra
from tests.support.fake_openai import FakeOpenAI, running_fake_openai
from tests.support.fixtures import Stack

SERVICES = ("compiler", "test-runner", "publisher", "gateway")
# Short enough that a scenario settles in seconds, long enough for an execution to finish.
SETTINGS = {
    "AI_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-test",
    "AI_MODEL": "gpt-4o-mini",
    "AI_TIMEOUT_SECONDS": "3",
    "AI_RETRY_MAX_WAIT_SECONDS": "1",
    "AI_BREAKER_RESET_SECONDS": "5",
    "ACK_WAIT_SECONDS": "5",
    "TEST_RUNNER_CONCURRENCY": "8",
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_ENABLED": "false",
}


@dataclass
class Chaos:
    """The running product and the things a scenario may break."""

    stack: Stack
    direct_database_url: str
    nats: PrivateNats
    proxy: TcpProxy
    provider: FakeOpenAI


@dataclass
class Outcome:
    scenario: str
    faults: list[str]
    checked: list[str]
    violations: list[str]
    ready_seconds: float | None
    notes: list[str] = field(default_factory=list)


def answer(body: dict[str, object]) -> str:
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else {}
    return f"Answer to: {last.get('content', '') if isinstance(last, dict) else ''}"


@contextlib.contextmanager
def running_chaos(log_dir: Path) -> Iterator[Chaos]:
    """Every service as its own process on a fresh database reached through a proxy, a private
    NATS server and a fake provider; all stopped and removed afterwards."""
    server = os.environ.get("TEST_DATABASE_URL", infra.DEFAULT_TEST_DATABASE_URL)
    with infra.fresh_database(server) as direct:
        infra.migrate_all(direct)
        url = make_url(direct)
        with (
            postgres_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy,
            private_nats() as nats,
            running_fake_openai() as provider,
        ):
            provider.reply_with(answer)
            provider.latency = 0.1  # with concurrency 8, a 500-case run lasts several seconds
            proxied = url.set(host="127.0.0.1", port=proxy.port)
            env = {**SETTINGS, "OPENAI_BASE_URL": provider.base_url}
            root = f"c{uuid.uuid4().hex[:10]}"
            stack = Stack(
                proxied.render_as_string(hide_password=False), nats.url, root, log_dir, env
            )
            try:
                for service in SERVICES:
                    stack.start(service)
                yield Chaos(stack, direct, nats, proxy, provider)
            finally:
                stop_all(stack)


def stop_all(stack: Stack) -> None:
    """SIGTERM every service; one that does not stop within the grace is killed, so no process
    outlives the run whatever a scenario left behind."""
    for process in stack.processes.values():
        try:
            process.stop()
        except subprocess.TimeoutExpired:
            process.kill()


def ready_after(chaos: Chaos, ended: float, timeout: float = 120) -> float | None:
    """Seconds from `ended` until every service answers /readyz with 200 (None: not in time)."""
    waiting = set(chaos.stack.processes)
    while waiting and time.monotonic() - ended < timeout:
        for name in list(waiting):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{chaos.stack.processes[name].url}/readyz", timeout=1).is_success:
                    waiting.discard(name)
        if waiting:
            time.sleep(0.1)
    return None if waiting else time.monotonic() - ended


def settle(scope: invariants.Scope, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if invariants.settled(scope):
            return True
        time.sleep(0.5)
    return False


def run_scenario(
    chaos: Chaos,
    name: str,
    inject: Callable[[Chaos, random.Random], list[str]],
    seed: int,
    *,
    cases: int,
    ready_bound: float,
    settle_timeout: float,
) -> Outcome:
    rng = random.Random(f"{seed}:{name}")
    with chaos.stack.new_user() as client:
        client.timeout = httpx.Timeout(30)
        workload = Workload(client, rng, cases)
        try:
            workload.start_commands(f"{name} commands")
            workload.start_run(f"{name} run")
            # The fault's moment: a seeded point of the run's progress, so the run is in flight.
            executed = workload.wait_executed(rng.uniform(0.1, 0.6) * cases)
            faults = inject(chaos, rng)
            faults[0] += f" at {executed}/{cases} cases"
            ready = ready_after(chaos, time.monotonic())
            time.sleep(2)  # commands go on for a while with the fault over
        finally:
            workload.stop()
    scope = invariants.Scope(
        chaos.direct_database_url, chaos.nats.url, chaos.stack.root, workload.agents, workload.runs
    )
    settled = settle(scope, settle_timeout)
    violations = [] if settled else [f"not settled within {settle_timeout:g} s"]
    for check in invariants.CHECKS.values():
        violations += check(scope)
    if ready is None or ready > ready_bound:
        violations.append(f"not ready within {ready_bound:g} s of the fault ending")
    dead = invariants.dead_letters(chaos.nats.url, chaos.stack.root)
    notes = [
        f"accepted {sum(workload.accepted.values())}",
        f"client errors {sum(workload.errors.values())}",
        f"dead letters {sum(dead.values())}"
        + "".join(
            f" [{s.split('.', 2)[2]} x{n}]" for s, n in sorted(dead.items())
        ),  # dlq.…: a dead letter's own dead letter
    ]
    return Outcome(name, faults, [*invariants.CHECKS, "ready again"], violations, ready, notes)


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [f"{'scenario':<22} {'faults injected':<44} {'ready s':>7} {'violations':>10}  notes"]
    for o in outcomes:
        ready = f"{o.ready_seconds:.1f}" if o.ready_seconds is not None else "never"
        lines.append(
            f"{o.scenario:<22} {'; '.join(o.faults):<44} {ready:>7} {len(o.violations):>10}  "
            f"{', '.join(o.notes)}"
        )
    lines.append(f"invariants checked in every scenario: {', '.join(outcomes[0].checked)}")
    for o in outcomes:
        lines += [f"  {o.scenario}: {v}" for v in o.violations]
    return "\n".join(lines)


def run(
    names: Sequence[str], seed: int, *, cases: int, ready_bound: float, settle_timeout: float
) -> list[Outcome]:
    print(
        f"chaos seed {seed} (repeat with --seed {seed}); scenarios: {', '.join(names)}", flush=True
    )
    outcomes = []
    with (
        tempfile.TemporaryDirectory(prefix="studio-chaos-") as logs,
        running_chaos(Path(logs)) as chaos,
    ):
        for name in names:
            outcome = run_scenario(
                chaos,
                name,
                SCENARIOS[name],
                seed,
                cases=cases,
                ready_bound=ready_bound,
                settle_timeout=settle_timeout,
            )
            print(table([outcome]).splitlines()[1], flush=True)
            outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--settle", type=float, default=180, help="seconds to wait for quiet")
    args = parser.parse_args()
    if unknown := [name for name in args.scenarios if name not in SCENARIOS]:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    outcomes = run(
        args.scenarios or list(SCENARIOS),
        seed,
        cases=args.cases,
        ready_bound=10,
        settle_timeout=args.settle,
    )
    print()
    print(table(outcomes))
    raise SystemExit(1 if any(o.violations for o in outcomes) else 0)


if __name__ == "__main__":
    main()
