"""The test-runner's handlers with a hand-written fake of its run repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.registry import envelope_for
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    CaseOutcome,
    CaseResult,
    ExecuteCaseV1,
    FanOutRunV1,
    GetTestRunV1,
    RunCase,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunResumedV1,
    TestRunStartedV1,
)
from runtime.errors import TransientError
from testrunner import domain, handlers
from testrunner.domain import Counts, Execution, Run

NOW = datetime(2026, 12, 1, tzinfo=UTC)
WHOLE = 1000  # a fan-out chunk larger than these tests' runs
OWNER = uuid4()


class FakeRuns:
    """Runs, cases and results in dicts, with the repository's rules: rows stored once, a run
    counted while active and finished once."""

    def __init__(self) -> None:
        self.runs: dict[UUID, Run] = {}
        self.cases: dict[UUID, dict[int, RunCase]] = {}
        self.results: dict[tuple[UUID, int, int], Execution] = {}
        self.fanned_out: dict[UUID, int] = {}
        self.locked: list[UUID] = []

    async def lock(self, run_id: UUID) -> None:
        self.locked.append(run_id)

    async def add(self, cmd: StartTestRunV1, owner_id: UUID | None) -> None:
        if cmd.run_id in self.runs:
            return
        zero = dict.fromkeys(
            (
                "executed",
                "executions_passed",
                "executions_failed",
                "executions_errored",
                "passed",
                "failed",
                "errored",
                "flaky",
            ),
            0,
        )
        self.runs[cmd.run_id] = Run.model_validate(
            {
                **cmd.model_dump(exclude={"run_id"}),
                **zero,
                "id": cmd.run_id,
                "owner_id": owner_id,
                "status": "queued",
                "reason": None,
                "created_at": NOW,
                "started_at": None,
                "finished_at": None,
            }
        )

    async def add_cases(self, run_id: UUID, cases: Sequence[RunCase]) -> None:
        stored = self.cases.setdefault(run_id, {})
        for case in cases:
            stored.setdefault(case.index, case)

    async def start_if_complete(self, run_id: UUID) -> Run | None:
        run = self.runs.get(run_id)
        cases = self.cases.get(run_id, {})
        if run is None or run.status != "queued" or len(cases) != run.total_cases:
            return None
        return self._update(run_id, status="running", started_at=NOW)

    async def next_chunk(self, run_id: UUID, start: int, size: int) -> domain.Chunk | None:
        run = self.runs.get(run_id)
        if run is None or run.status not in ("running", "paused"):
            return None
        if self.fanned_out.get(run_id, 0) != start or start >= run.executions:
            return None
        end = min(start + size, run.executions)
        self.fanned_out[run_id] = end
        positions = domain.executions_between(run.total_cases, start, end)
        cases = self.cases[run_id]
        return domain.Chunk([(r, cases[i]) for r, i in positions], more=end < run.executions)

    async def get(self, run_id: UUID) -> Run | None:
        return self.runs.get(run_id)

    async def record(self, run_id: UUID, executions: list[Execution]) -> tuple[Run, bool] | None:
        new = [e for e in executions if (run_id, e.case.index, e.repeat_index) not in self.results]
        for e in new:
            self.results[(run_id, e.case.index, e.repeat_index)] = e
        run = self.runs[run_id]
        if not new or run.status not in ("running", "paused"):
            return None
        errored = sum(1 for e in new if e.error is not None)
        passed = sum(1 for e in new if e.error is None and e.pass_)
        reached_provider = any(
            not (e.error or "").startswith(domain.PROVIDER_ERROR_PREFIX) for e in new
        )
        resumed = run.status == "paused" and reached_provider
        updated = self._update(
            run_id,
            executed=run.executed + len(new),
            executions_passed=run.executions_passed + passed,
            executions_failed=run.executions_failed + len(new) - passed - errored,
            executions_errored=run.executions_errored + errored,
            **({"status": "running", "reason": None} if resumed else {}),
        )
        return updated, resumed

    async def case_outcomes(self, run_id: UUID) -> list[tuple[UUID, CaseOutcome]]:
        by_case: dict[int, list[Execution]] = {}
        for (r, index, _), e in sorted(self.results.items(), key=lambda kv: kv[0][1:]):
            if r == run_id:
                by_case.setdefault(index, []).append(e)
        return [
            (
                found[0].case.test_case_id,
                domain.case_outcome(
                    any(e.error is None and e.pass_ for e in found),
                    any(e.error is None and not e.pass_ for e in found),
                ),
            )
            for found in by_case.values()
        ]

    async def finish(
        self, run_id: UUID, status: str, counts: Counts, reason: str | None = None
    ) -> Run | None:
        if self.runs[run_id].finished:
            return None
        return self._update(
            run_id,
            status=status,
            reason=reason,
            passed=counts.passed,
            failed=counts.failed,
            errored=counts.errored,
            flaky=counts.flaky,
            finished_at=NOW,
        )

    async def results_page(
        self, run_id: UUID, after: tuple[int, int] | None, limit: int
    ) -> list[CaseResult]:
        keys = sorted(k[1:] for k in self.results if k[0] == run_id and k[1:] > (after or (-1, -1)))
        return [CaseResult.model_validate(self.results[(run_id, *k)].row()) for k in keys[:limit]]

    def _update(self, run_id: UUID, **changes: Any) -> Run:
        self.runs[run_id] = self.runs[run_id].model_copy(update=changes)
        return self.runs[run_id]


def as_protocol(fake: FakeRuns) -> handlers.Runs:
    """Lets mypy check that the fake satisfies the handlers' Protocol."""
    return fake


def cases(n: int) -> list[RunCase]:
    return [RunCase(index=i, test_case_id=uuid4(), input=f"question {i}") for i in range(n)]


def start(total: int, repeat: int = 1) -> StartTestRunV1:
    return StartTestRunV1(
        run_id=uuid4(),
        agent_id=uuid4(),
        compilation_id=uuid4(),
        instructions="Be brief.",
        repeat=repeat,
        total_cases=total,
    )


async def started_run(runs: FakeRuns, total: int, repeat: int = 1) -> list[ExecuteCaseV1]:
    cmd = start(total, repeat)
    await handlers.handle_start_test_run(cmd, owner_id=OWNER, runs=runs, chunk_size=WHOLE)
    emitted = await handlers.handle_add_run_cases(
        AddRunCasesV1(run_id=cmd.run_id, cases=cases(total)), runs=runs, chunk_size=WHOLE
    )
    return [e for e in emitted if isinstance(e, ExecuteCaseV1)]


def executed(cmd: ExecuteCaseV1, *, passed: bool = True) -> tuple[Envelope[Any], Execution]:
    envelope = envelope_for(cmd, source="test", correlation_id=uuid4(), owner_id=OWNER)
    execution = Execution(cmd.run_id, cmd.case, cmd.repeat_index)
    execution.pass_, execution.output = passed, "answer"
    return envelope, execution


async def test_the_chunk_that_completes_the_snapshot_fans_the_run_out_once() -> None:
    runs = FakeRuns()
    cmd = start(3, repeat=2)
    chunk = cases(3)
    first, rest = (
        AddRunCasesV1(run_id=cmd.run_id, cases=chunk[:1]),
        AddRunCasesV1(run_id=cmd.run_id, cases=chunk[1:]),
    )
    # Cases may come before the run's start: nothing fans out until the snapshot is whole.
    assert await handlers.handle_add_run_cases(first, runs=runs, chunk_size=WHOLE) == []
    assert (
        await handlers.handle_start_test_run(cmd, owner_id=OWNER, runs=runs, chunk_size=WHOLE) == []
    )
    emitted = await handlers.handle_add_run_cases(rest, runs=runs, chunk_size=WHOLE)
    started, *executions = emitted
    assert isinstance(started, TestRunStartedV1)
    assert started.executions == 6
    # Every case's first execution before any second.
    order = [(e.repeat_index, e.case.index) for e in executions if isinstance(e, ExecuteCaseV1)]
    assert order == [(r, i) for r in range(2) for i in range(3)]
    assert await handlers.handle_add_run_cases(rest, runs=runs, chunk_size=WHOLE) == []
    assert (
        await handlers.handle_start_test_run(cmd, owner_id=OWNER, runs=runs, chunk_size=WHOLE) == []
    )
    assert set(runs.locked) == {cmd.run_id}


def split(emitted: list[BaseModel]) -> tuple[list[tuple[int, int]], list[FanOutRunV1]]:
    """The `(repeat, case index)` of the executions emitted, and the fan-out commands."""
    executions = [(e.repeat_index, e.case.index) for e in emitted if isinstance(e, ExecuteCaseV1)]
    return executions, [e for e in emitted if isinstance(e, FanOutRunV1)]


async def test_a_run_fans_out_a_chunk_at_a_time_each_chunk_once() -> None:
    runs = FakeRuns()
    cmd = start(3, repeat=3)
    await handlers.handle_add_run_cases(
        AddRunCasesV1(run_id=cmd.run_id, cases=cases(3)), runs=runs, chunk_size=4
    )
    started, *first = await handlers.handle_start_test_run(
        cmd, owner_id=OWNER, runs=runs, chunk_size=4
    )
    assert isinstance(started, TestRunStartedV1)
    assert started.executions == 9
    executions, (follow,) = split(first)
    assert (executions, follow.offset) == ([(0, 0), (0, 1), (0, 2), (1, 0)], 4)

    second = await handlers.handle_fan_out_run(follow, runs=runs, chunk_size=4)
    # Redelivered (past the inbox): the cursor has moved on, so nothing is emitted twice.
    assert await handlers.handle_fan_out_run(follow, runs=runs, chunk_size=4) == []
    more, (last_follow,) = split(second)
    last, none = split(await handlers.handle_fan_out_run(last_follow, runs=runs, chunk_size=4))
    assert none == []
    assert executions + more + last == [(r, i) for r in range(3) for i in range(3)]


async def test_a_run_cancelled_mid_fan_out_emits_no_further_chunk() -> None:
    runs = FakeRuns()
    cmd = start(3)
    await handlers.handle_start_test_run(cmd, owner_id=OWNER, runs=runs, chunk_size=2)
    first = await handlers.handle_add_run_cases(
        AddRunCasesV1(run_id=cmd.run_id, cases=cases(3)), runs=runs, chunk_size=2
    )
    _, (follow,) = split(first)
    await handlers.handle_cancel_test_run(CancelTestRunV1(run_id=cmd.run_id), runs=runs)
    assert await handlers.handle_fan_out_run(follow, runs=runs, chunk_size=2) == []


async def test_executions_are_counted_and_the_last_one_completes_the_run_exactly_once() -> None:
    runs = FakeRuns()
    a, b, c = await started_run(runs, 3)
    first = await handlers.handle_executions([executed(a), executed(b, passed=False)], runs=runs)
    assert first.emitted == []
    (notice,) = first.notices
    assert (notice.status, notice.executed, notice.executions) == ("running", 2, 3)
    assert [r.pass_ for r in notice.results] == [True, False]

    last = executed(c)
    done = await handlers.handle_executions([last], runs=runs)
    ((cause, completed),) = done.emitted
    assert cause is last[0]
    assert isinstance(completed, TestRunCompletedV1)
    assert (completed.summary.passed, completed.summary.failed) == (2, 1)
    assert completed.failed_cases == [b.case.test_case_id]
    assert done.notices[0].status == "completed"
    # The same results again (a redelivery past the inbox) record and complete nothing.
    again = await handlers.handle_executions([executed(c), executed(a)], runs=runs)
    assert (again.emitted, again.notices) == ([], [])


async def test_a_result_that_reached_the_provider_resumes_a_paused_run_once() -> None:
    runs = FakeRuns()
    a, b, _ = await started_run(runs, 3)
    runs._update(a.run_id, status="paused", reason="AI provider unavailable: breaker open")
    first = executed(a)
    resumed = await handlers.handle_executions([first], runs=runs)
    ((cause, event),) = resumed.emitted
    assert cause is first[0]
    assert isinstance(event, TestRunResumedV1)
    assert event.run_id == a.run_id
    assert resumed.notices[0].status == "running"
    # Running already: the next results resume nothing.
    more = await handlers.handle_executions([executed(b)], runs=runs)
    assert more.emitted == []


async def test_a_case_passing_and_failing_over_its_repeats_is_flaky() -> None:
    runs = FakeRuns()
    first, second = await started_run(runs, 1, repeat=2)
    done = await handlers.handle_executions(
        [executed(first), executed(second, passed=False)], runs=runs
    )
    ((_, completed),) = done.emitted
    assert isinstance(completed, TestRunCompletedV1)
    assert (completed.summary.flaky, completed.summary.pass_rate) == (1, 0.0)


async def test_cancel_finishes_a_run_once_and_late_results_are_not_counted() -> None:
    runs = FakeRuns()
    a, b = await started_run(runs, 2)
    await handlers.handle_executions([executed(a)], runs=runs)
    cmd = CancelTestRunV1(run_id=a.run_id)
    (cancelled,) = await handlers.handle_cancel_test_run(cmd, runs=runs)
    assert isinstance(cancelled, TestRunCancelledV1)
    assert (cancelled.summary.status, cancelled.summary.reason) == (
        "cancelled",
        "cancelled by its owner",
    )
    assert cancelled.summary.passed == 1
    assert await handlers.handle_cancel_test_run(cmd, runs=runs) == []
    late = await handlers.handle_executions([executed(b)], runs=runs)
    assert (late.emitted, late.notices) == ([], [])
    assert runs.runs[a.run_id].executed == 1


async def test_cancelling_a_run_not_started_yet_is_retried() -> None:
    with pytest.raises(TransientError):
        await handlers.handle_cancel_test_run(CancelTestRunV1(run_id=uuid4()), runs=FakeRuns())


async def test_skipped_executions_are_not_recorded() -> None:
    runs = FakeRuns()
    (a,) = await started_run(runs, 1)
    envelope, execution = executed(a)
    execution.skipped = True
    assert (await handlers.handle_executions([(envelope, execution)], runs=runs)).notices == []
    assert runs.results == {}


async def test_a_run_is_read_by_its_owner_only_with_live_counts_and_pages_of_results() -> None:
    runs = FakeRuns()
    a, b, c = await started_run(runs, 3)
    await handlers.handle_executions([executed(a), executed(b, passed=False)], runs=runs)
    query = GetTestRunV1(run_id=a.run_id, results_limit=1)
    assert not (await handlers.answer_get_test_run(query, owner_id=uuid4(), runs=runs)).found
    reply = await handlers.answer_get_test_run(query, owner_id=OWNER, runs=runs)
    assert reply.summary is not None
    assert (reply.summary.status, reply.summary.passed, reply.summary.failed) == ("running", 1, 1)
    assert [r.case_index for r in reply.results] == [0]
    assert reply.next_after == (0, 0)
    rest = query.model_copy(update={"results_after": reply.next_after, "results_limit": 10})
    page = await handlers.answer_get_test_run(rest, owner_id=OWNER, runs=runs)
    assert ([r.case_index for r in page.results], page.next_after) == ([1], None)
    assert c.case.index == 2
