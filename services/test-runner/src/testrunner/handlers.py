"""Handlers of the test-runner's messages (docs/decisions/0006).

Building a run: `StartTestRunV1` and the `AddRunCasesV1` chunks may arrive in any order; whichever
completes the snapshot starts the run (an advisory lock per run serialises them). Fanning out: one
`ExecuteCaseV1` per case x repeat, emitted a chunk per transaction, each chunk sending the
`FanOutRunV1` for the next, so memory and transactions stay the size of a chunk whatever the
run's. Executing: staged outside any transaction by `executor.Executor` (the AI call, the verdict)
and recorded here in batches; the batch that records a run's last execution completes it, exactly
once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.privacy import EraseTestRunsV1, TestRunsErasedV1
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    CaseOutcome,
    CaseResult,
    ExecuteCaseV1,
    FanOutRunV1,
    GetTestRunV1,
    ResultNotice,
    RunCase,
    RunProgressV1,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunResumedV1,
    TestRunStartedV1,
    TestRunV1,
)
from runtime.dead_letter_consumer import DeadLetter, readable_reason
from runtime.errors import TransientError
from runtime.faults import failpoint
from testrunner import domain, metrics
from testrunner.domain import Chunk, Counts, Execution, Run

log = structlog.get_logger()

REPLY_BUDGET_BYTES = 800_000  # a query reply stays under NATS's default 1 MB max payload


class Runs(Protocol):
    """A run's snapshot, results and counts (`repository.RunRepository`)."""

    async def lock(self, run_id: UUID) -> None: ...
    async def add(self, cmd: StartTestRunV1, owner_id: UUID | None) -> None: ...
    async def add_cases(self, run_id: UUID, cases: Sequence[RunCase]) -> None: ...
    async def start_if_complete(self, run_id: UUID) -> Run | None: ...
    async def next_chunk(self, run_id: UUID, start: int, size: int) -> Chunk | None:
        """Claim the run's executions `start` up to `start + size` if its cursor stands at
        `start`; None when it does not or the run is no longer active."""

    async def get(self, run_id: UUID) -> Run | None: ...
    async def record(self, run_id: UUID, executions: list[Execution]) -> tuple[Run, bool] | None:
        """Store the new results and count them; the run, and whether this resumed it from a
        pause. None when none was new or the run is over."""

    async def case_outcomes(self, run_id: UUID) -> list[tuple[UUID, CaseOutcome]]: ...
    async def finish(
        self, run_id: UUID, status: str, counts: Counts, reason: str | None = None
    ) -> Run | None:
        """Complete or cancel an unfinished run; None when it had already finished."""

    async def results_page(
        self, run_id: UUID, after: tuple[int, int] | None, limit: int
    ) -> list[CaseResult]: ...


# Building and cancelling runs ------------------------------------------------------------------


async def handle_start_test_run(
    cmd: StartTestRunV1, *, owner_id: UUID | None, runs: Runs, chunk_size: int
) -> list[BaseModel]:
    """Consumes `StartTestRunV1`; emits `TestRunStartedV1` and the first chunk of executions once
    all cases are in.

    Idempotency key: `run_id` (the run row is inserted once; only a queued run starts).
    """
    await runs.lock(cmd.run_id)
    await runs.add(cmd, owner_id)
    return await _start_if_complete(runs, cmd.run_id, chunk_size)


async def handle_add_run_cases(
    cmd: AddRunCasesV1, *, runs: Runs, chunk_size: int
) -> list[BaseModel]:
    """Consumes `AddRunCasesV1`; emits what `handle_start_test_run` does if this was the last chunk.

    Idempotency key: `(run_id, case index)` per case.
    """
    await runs.lock(cmd.run_id)
    await runs.add_cases(cmd.run_id, cmd.cases)
    return await _start_if_complete(runs, cmd.run_id, chunk_size)


async def handle_fan_out_run(cmd: FanOutRunV1, *, runs: Runs, chunk_size: int) -> list[BaseModel]:
    """Consumes `FanOutRunV1`; emits the run's next chunk of executions and, unless it was the
    last, the `FanOutRunV1` for the one after. A cancelled run fans out no further.

    Idempotency key: `(run_id, offset)`: the run's cursor moves past an offset once.
    """
    await runs.lock(cmd.run_id)  # the same lock as a cancel: a chunk is emitted before it or not
    emitted = await _fan_out(runs, cmd.run_id, cmd.offset, chunk_size)
    failpoint("test-runner.mid_fan_out")  # tests: a crash with a chunk claimed, not committed
    return emitted


async def _start_if_complete(runs: Runs, run_id: UUID, chunk_size: int) -> list[BaseModel]:
    run = await runs.start_if_complete(run_id)
    if run is None:
        return []
    started = TestRunStartedV1(run_id=run_id, agent_id=run.agent_id, executions=run.executions)
    return [started, *await _fan_out(runs, run_id, 0, chunk_size)]


async def _fan_out(runs: Runs, run_id: UUID, start: int, chunk_size: int) -> list[BaseModel]:
    chunk = await runs.next_chunk(run_id, start, chunk_size)
    if chunk is None:
        return []
    emitted: list[BaseModel] = [
        ExecuteCaseV1(run_id=run_id, repeat_index=repeat, case=case)
        for repeat, case in chunk.executions
    ]
    if chunk.more:
        emitted.append(FanOutRunV1(run_id=run_id, offset=start + len(chunk.executions)))
    return emitted


async def handle_cancel_test_run(cmd: CancelTestRunV1, *, runs: Runs) -> list[BaseModel]:
    """Consumes `CancelTestRunV1`; emits `TestRunCancelledV1` unless the run had already finished.

    Idempotency key: `run_id` (only an unfinished run can be cancelled).
    """
    await runs.lock(cmd.run_id)
    if await runs.get(cmd.run_id) is None:
        # The run's start has not been applied yet (another consumer): try again shortly.
        raise TransientError(f"run {cmd.run_id} is not known yet", retry_after=1.0)
    counts = domain.count([o for _, o in await runs.case_outcomes(cmd.run_id)])
    run = await runs.finish(
        cmd.run_id, "cancelled", counts, reason=cmd.reason or "cancelled by its owner"
    )
    if run is None:
        return []
    metrics.runs_finished.labels("cancelled").inc()
    return [TestRunCancelledV1(summary=run.summary(counts))]


class Erasures(Protocol):
    """Deletes a user's test-runner data (`repository.ErasureRepository`)."""

    async def erase(
        self, user_id: UUID, agent_ids: Sequence[UUID], queued_run_ids: Sequence[UUID]
    ) -> dict[str, int]: ...


async def handle_erase_test_runs(cmd: EraseTestRunsV1, *, erasures: Erasures) -> list[BaseModel]:
    """Consumes `EraseTestRunsV1`; emits `TestRunsErasedV1` for its part.

    Idempotent: deleting what is already gone deletes nothing, and the event is sent again.
    """
    erased = await erasures.erase(cmd.user_id, cmd.agent_ids, cmd.queued_run_ids)
    return [
        TestRunsErasedV1(erasure_id=cmd.erasure_id, part=cmd.part, parts=cmd.parts, erased=erased)
    ]


# Recording executions --------------------------------------------------------------------------


@dataclass
class Recorded:
    """What a batch of executions changed: events to emit, each with the message that caused it,
    and each run's progress, to announce once committed."""

    emitted: list[tuple[Envelope[Any], BaseModel]] = field(default_factory=list)
    notices: list[RunProgressV1] = field(default_factory=list)


async def handle_executions(
    staged: Sequence[tuple[Envelope[Any], Execution]], *, runs: Runs
) -> Recorded:
    """Records staged `ExecuteCaseV1` results; emits `TestRunResumedV1` for a paused run that a
    result reaching the provider resumed, `TestRunCompletedV1` for a run whose last execution this
    batch recorded, and a progress notice per run.

    Idempotency key: `(run_id, case index, repeat)` per result (besides the inbox); a run is
    completed once, by the batch whose count reaches its executions.
    """
    by_run: dict[UUID, list[tuple[Envelope[Any], Execution]]] = defaultdict(list)
    for envelope, execution in staged:
        if not execution.skipped:
            by_run[execution.run_id].append((envelope, execution))
    recorded = Recorded()
    for run_id, items in by_run.items():
        executions = [e for _, e in items]
        counted = await runs.record(run_id, executions)
        if counted is None:
            continue
        run, resumed = counted
        for e in executions:
            metrics.executions.labels(_outcome(e), str(e.cached).lower()).inc()
        status, reason = run.status, run.reason
        if resumed:
            log.info("test_run.resumed", run_id=str(run_id))
            recorded.emitted.append(
                (items[-1][0], TestRunResumedV1(run_id=run_id, at=datetime.now(UTC)))
            )
        if run.executed >= run.executions:
            completed = await _complete(runs, run_id)
            if completed is not None:
                recorded.emitted.append((items[-1][0], completed))
                status, reason = "completed", None
        recorded.notices.append(_progress(run, status, reason, executions))
    return recorded


async def _complete(runs: Runs, run_id: UUID) -> TestRunCompletedV1 | None:
    outcomes = await runs.case_outcomes(run_id)
    counts = domain.count([o for _, o in outcomes])
    run = await runs.finish(run_id, "completed", counts)
    if run is None:
        return None
    metrics.runs_finished.labels("completed").inc()
    if counts.pass_rate is not None:
        metrics.run_pass_rate.observe(counts.pass_rate)
    log.info("test_run.completed", run_id=str(run_id), pass_rate=counts.pass_rate)
    return TestRunCompletedV1(
        summary=run.summary(counts),
        passed_cases=[c for c, o in outcomes if o == "passed"],
        failed_cases=[c for c, o in outcomes if o in ("failed", "flaky")],
        errored_cases=[c for c, o in outcomes if o == "errored"],
    )


def _outcome(execution: Execution) -> str:
    if execution.error is not None:
        return "error"
    return "pass" if execution.pass_ else "fail"


def _progress(
    run: Run, status: str, reason: str | None, executions: list[Execution]
) -> RunProgressV1:
    return RunProgressV1(
        run_id=run.id,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        executed=run.executed,
        executions=run.executions,
        results=[
            ResultNotice(
                case_index=e.case.index,
                repeat_index=e.repeat_index,
                test_case_id=e.case.test_case_id,
                pass_=e.pass_,
                error=e.error,
                score=e.score,
                cached=e.cached,
            )
            for e in executions
        ],
    )


async def handle_dead_execution(letter: DeadLetter, *, runs: Runs) -> Recorded:
    """Records a dead-lettered `ExecuteCaseV1` as an `error` result naming why, so its run still
    completes with one result per case; emits what recording any result does.

    Idempotency key: `(run_id, case index, repeat)` (a result already recorded stays; a finished
    run changes no more), besides the inbox keyed by the original message id.
    """
    cmd: ExecuteCaseV1 = letter.envelope.data
    log.warning("test_run.execution_dead_lettered", run_id=str(cmd.run_id), reason=letter.reason)
    execution = Execution(cmd.run_id, cmd.case, cmd.repeat_index)
    execution.failed_to_run(readable_reason(letter, "execution"))
    return await handle_executions([(letter.envelope, execution)], runs=runs)


# Reading runs ----------------------------------------------------------------------------------


async def answer_get_test_run(
    query: GetTestRunV1, *, owner_id: UUID | None, runs: Runs
) -> TestRunV1:
    """Answers `GetTestRunV1`: the summary (live counts until the run finishes) and a page of
    results, cut short to keep the reply within NATS's payload limit."""
    run = await runs.get(query.run_id)
    if run is None or (run.owner_id is not None and run.owner_id != owner_id):
        return TestRunV1(found=False)
    if run.finished:
        counts = run.stored_counts()
    elif run.repeat == 1:
        counts = run.execution_counts()
    else:  # a case's outcome depends on all its repeats so far
        counts = domain.count([o for _, o in await runs.case_outcomes(query.run_id)])
    results, next_after = await _results(runs, query)
    return TestRunV1(
        found=True, summary=run.summary(counts), results=results, next_after=next_after
    )


async def _results(
    runs: Runs, query: GetTestRunV1
) -> tuple[list[CaseResult], tuple[int, int] | None]:
    if not query.results_limit:
        return [], None
    found = await runs.results_page(query.run_id, query.results_after, query.results_limit + 1)
    results: list[CaseResult] = []
    budget = REPLY_BUDGET_BYTES
    for result in found[: query.results_limit]:
        budget -= len(result.model_dump_json())
        if budget < 0 and results:
            break
        results.append(result)
    if len(results) < len(found):
        return results, (results[-1].case_index, results[-1].repeat_index)
    return results, None
