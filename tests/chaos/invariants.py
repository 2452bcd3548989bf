"""What must hold after any fault, read behind the API in each service's schema and in JetStream.

Each check returns its violations as sentences (empty: it holds). The checks look only at the
agents a scenario created, except the ones about the whole system (nothing stuck, events once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats

from tests.support import infra

OUTBOXES = ("gateway", "compiler", "test_runner", "publisher")


@dataclass(frozen=True)
class Scope:
    database_url: str  # direct, not through the proxy: the checks run with the fault over
    nats_url: str
    root: str
    agents: Sequence[str]
    runs: Sequence[str]


def _rows(scope: Scope, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in infra.query(scope.database_url, sql, agents=list(scope.agents))]


AGENTS = "agent_id = ANY(CAST(:agents AS uuid[]))"


def durables_in_flight(nats_url: str, root: str) -> dict[str, tuple[int, int]]:
    """(pending, ack-pending) of every durable consumer on the root's streams."""

    async def read() -> dict[str, tuple[int, int]]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream(timeout=5)
            found: dict[str, tuple[int, int]] = {}
            for stream in await infra.stream_names(js):
                if not stream.startswith(f"{root.upper()}_"):
                    continue
                for info in await js.consumers_info(stream):
                    if info.config.durable_name:
                        counts = (int(info.num_pending or 0), int(info.num_ack_pending or 0))
                        found[f"{stream}/{info.config.durable_name}"] = counts
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


def dead_letters(nats_url: str, root: str) -> dict[str, int]:
    """How many messages the dead-letter stream holds, by subject."""
    try:
        return infra.stream_subject_counts(nats_url, f"{root.upper()}_DEAD_LETTER", f"{root}.dlq.>")
    except Exception:  # no dead letter yet: the stream may not exist
        return {}


def outbox_rows(scope: Scope) -> int:
    return sum(int(_rows(scope, f"SELECT count(*) FROM {s}.outbox")[0][0]) for s in OUTBOXES)


def unfinished(scope: Scope) -> int:
    """Commands the gateway accepted whose outcome it has not seen yet."""
    [(n,)] = _rows(
        scope,
        f"SELECT (SELECT count(*) FROM gateway.compilations WHERE status = 'pending' AND {AGENTS})"
        f" + (SELECT count(*) FROM gateway.test_runs WHERE status NOT IN "
        f"('completed', 'cancelled', 'failed') AND {AGENTS})"
        f" + (SELECT count(*) FROM gateway.publishes WHERE status = 'pending' AND {AGENTS})",
    )
    return int(str(n))


def settled(scope: Scope) -> bool:
    if unfinished(scope) or outbox_rows(scope):
        return False
    return all(
        counts == (0, 0) for counts in durables_in_flight(scope.nats_url, scope.root).values()
    )


def one_outcome_per_command(scope: Scope) -> list[str]:
    found: list[str] = []
    for table, pending in (
        ("compilations", "status = 'pending'"),
        ("test_runs", "status NOT IN ('completed', 'cancelled', 'failed')"),
        ("publishes", "status = 'pending'"),
    ):
        for row in _rows(
            scope, f"SELECT id, status FROM gateway.{table} WHERE {pending} AND {AGENTS}"
        ):
            found.append(f"{table} {row[0]} has no outcome (still {row[1]})")
    mismatched = _rows(
        scope,
        "SELECT g.id, g.status, count(c.id), min(c.status) FROM gateway.compilations g "
        f"LEFT JOIN compiler.compilations c ON c.id = g.id WHERE g.{AGENTS} "
        "GROUP BY g.id, g.status HAVING count(c.id) <> 1 OR min(c.status) <> g.status",
    )
    found += [
        f"compilation {r[0]}: gateway {r[1]}, compiler {r[2]} rows ({r[3]})" for r in mismatched
    ]
    publishes = _rows(
        scope,
        "SELECT p.id, p.status, p.version, count(v.number), min(v.number) FROM gateway.publishes p "
        f"LEFT JOIN publisher.versions v ON v.publish_id = p.id WHERE p.kind = 'publish' AND p.{AGENTS} "
        "GROUP BY p.id, p.status, p.version",
    )
    for pid, status, version, count, number in publishes:
        expected = 1 if status == "done" else 0
        if count != expected or (expected and number != version):
            found.append(
                f"publish {pid} is {status} (v{version}) with {count} versions (v{number})"
            )
    moves = dict(
        _rows(
            scope,
            "SELECT agent_id, count(*) FROM gateway.publishes WHERE kind = 'move' AND status = 'done' "
            f"AND {AGENTS} GROUP BY agent_id",
        )
    )
    history = dict(
        _rows(
            scope,
            f"SELECT agent_id, count(*) FROM publisher.channel_history WHERE {AGENTS} GROUP BY agent_id",
        )
    )
    for agent in set(moves) | set(history):
        if moves.get(agent, 0) != history.get(agent, 0):
            found.append(
                f"agent {agent}: {moves.get(agent, 0)} moves done, {history.get(agent, 0)} in history"
            )
    return found + _events_once(scope)


def _events_once(scope: Scope) -> list[str]:
    """Each outcome announced once: the events in the streams match the rows behind them."""
    root = scope.root

    def events(stream: str, *names: str) -> int:
        counts = infra.stream_subject_counts(
            scope.nats_url, f"{root.upper()}_{stream}", f"{root}.{stream.lower()}.evt.>"
        )
        return sum(n for subject, n in counts.items() if subject.split(".")[3] in names)

    expected = [
        ("compilation outcomes", "COMPILER", ("agent_compiled", "compilation_failed"),
         "SELECT count(*) FROM compiler.compilations WHERE status <> 'pending'"),
        ("run completions", "TEST_RUNNER", ("test_run_completed", "test_run_cancelled"),
         "SELECT count(*) FROM test_runner.runs WHERE status IN ('completed', 'cancelled')"),
        ("versions published", "PUBLISHER", ("version_published",),
         "SELECT count(*) FROM publisher.versions"),
        ("channel moves", "PUBLISHER", ("channel_moved",),
         "SELECT count(*) FROM publisher.channel_history"),
    ]  # fmt: skip
    found = []
    for what, stream, names, sql in expected:
        rows = int(str(_rows(scope, sql)[0][0]))
        sent = events(stream, *names)
        if sent != rows:
            found.append(f"{what}: {sent} events for {rows} rows")
    return found


def one_result_per_case(scope: Scope) -> list[str]:
    found = []
    for run_id in scope.runs:
        rows = infra.query(
            scope.database_url,
            "SELECT r.status, r.total_cases * r.repeat AS expected, r.executed, "
            "(SELECT count(*) FROM test_runner.results x WHERE x.run_id = r.id) AS results, "
            "(SELECT count(DISTINCT case_index) FROM test_runner.results x WHERE x.run_id = r.id) "
            "AS cases, r.total_cases FROM test_runner.runs r WHERE r.id = :id",
            id=run_id,
        )
        if not rows:
            found.append(f"run {run_id} never reached the test-runner")
            continue
        status, expected, executed, results, distinct, total = tuple(rows[0])
        if status != "completed":
            found.append(f"run {run_id} is {status} ({results}/{expected} results)")
        elif results != expected or executed != expected or distinct != total:
            found.append(
                f"run {run_id}: {results} results, {executed} executed, {distinct} cases, "
                f"expected {expected}"
            )
    return found


def versions_without_gaps(scope: Scope) -> list[str]:
    found = []
    numbers: dict[object, list[int]] = {}
    for agent, number in _rows(
        scope, f"SELECT agent_id, number FROM publisher.versions WHERE {AGENTS} ORDER BY 1, 2"
    ):
        numbers.setdefault(agent, []).append(int(str(number)))
    for agent, got in numbers.items():
        if got != list(range(1, len(got) + 1)):
            found.append(f"agent {agent}: version numbers {got}")
    for agent, version, n in _rows(
        scope,
        "SELECT agent_id, version, count(*) FROM gateway.publishes WHERE kind = 'publish' "
        f"AND status = 'done' AND {AGENTS} GROUP BY 1, 2 HAVING count(*) > 1",
    ):
        found.append(f"agent {agent}: version {version} reported done by {n} publishes")
    return found


def nothing_stuck(scope: Scope) -> list[str]:
    found = [
        f"{name}: {pending} pending, {acks} unacknowledged"
        for name, (pending, acks) in durables_in_flight(scope.nats_url, scope.root).items()
        if (pending, acks) != (0, 0)
    ]
    if rows := outbox_rows(scope):
        found.append(f"{rows} outbox rows never published")
    return found


CHECKS: dict[str, Callable[[Scope], list[str]]] = {
    "one outcome per command": one_outcome_per_command,
    "one result per case": one_result_per_case,
    "versions without gaps": versions_without_gaps,
    "nothing stuck": nothing_stuck,
}
