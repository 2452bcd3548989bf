"""Handlers of the test-runner's messages (docs/decisions/0006).

Building a run: `StartTestRunV1` and the `AddRunCasesV1` chunks may arrive in any order; whichever
completes the snapshot fans the run out (an advisory lock per run serialises them). Executing: one
`ExecuteCaseV1` per case x repeat, staged outside any transaction (the AI call, the verdict) and
recorded in batches; the batch that records a run's last execution completes it, exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assertions import evaluate
from contracts.compiler import VariableDecl
from contracts.envelope import Envelope
from contracts.instructions import RenderError, render
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    CaseResult,
    ExecuteCaseV1,
    GetTestRunV1,
    ResultNotice,
    RunProgressV1,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunStartedV1,
    TestRunV1,
)
from runtime.ai import (
    AIProvider,
    CircuitOpen,
    Completion,
    ProviderError,
    ProviderUnavailable,
)
from runtime.consumer import Recorded, Staged
from runtime.errors import TransientError
from testrunner import domain, metrics
from testrunner import repository as repo
from testrunner.domain import Execution
from testrunner.grader import ProviderGrader

log = structlog.get_logger()

REPLY_BUDGET_BYTES = 800_000  # a query reply stays under NATS's default 1 MB max payload
Notify = Callable[[RunProgressV1], Awaitable[None]]


# Building and cancelling runs ------------------------------------------------------------------


async def handle_start_test_run(
    cmd: StartTestRunV1, *, owner_id: UUID | None, session: AsyncSession
) -> list[BaseModel]:
    """Consumes `StartTestRunV1`; emits the executions and `TestRunStartedV1` once all cases are in.

    Idempotency key: `run_id` (the run row is inserted once; only a queued run fans out).
    """
    await repo.lock_run(session, cmd.run_id)
    await repo.add_run(session, cmd, owner_id)
    return await _fan_out_if_complete(session, cmd.run_id)


async def handle_add_run_cases(cmd: AddRunCasesV1, *, session: AsyncSession) -> list[BaseModel]:
    """Consumes `AddRunCasesV1`; emits what `handle_start_test_run` does if this was the last chunk.

    Idempotency key: `(run_id, case index)` per case.
    """
    await repo.lock_run(session, cmd.run_id)
    await repo.add_cases(session, cmd.run_id, cmd.cases)
    return await _fan_out_if_complete(session, cmd.run_id)


async def _fan_out_if_complete(session: AsyncSession, run_id: UUID) -> list[BaseModel]:
    run, cases = await repo.start_if_complete(session, run_id)
    if run is None:
        return []
    # Every case's first execution before any second: early results cover the whole suite.
    executions: list[BaseModel] = [
        ExecuteCaseV1(run_id=run_id, repeat_index=r, case=case)
        for r in range(run.repeat)
        for case in cases
    ]
    started = TestRunStartedV1(run_id=run_id, agent_id=run.agent_id, executions=len(executions))
    return [started, *executions]


async def handle_cancel_test_run(cmd: CancelTestRunV1, *, session: AsyncSession) -> list[BaseModel]:
    """Consumes `CancelTestRunV1`; emits `TestRunCancelledV1` unless the run had already finished.

    Idempotency key: `run_id` (only an unfinished run can be cancelled).
    """
    await repo.lock_run(session, cmd.run_id)
    current = await repo.get_run(session, cmd.run_id)
    if current is None:
        # The run's start has not been applied yet (another consumer): try again shortly.
        raise TransientError(f"run {cmd.run_id} is not known yet", retry_after=1.0)
    counts = domain.count([o for _, o in await repo.case_outcomes(session, cmd.run_id)])
    run = await repo.finish(
        session, cmd.run_id, "cancelled", counts, reason=cmd.reason or "cancelled by its owner"
    )
    if run is None:
        return []
    metrics.runs_finished.labels("cancelled").inc()
    return [TestRunCancelledV1(summary=repo.summary(run, counts))]


# Executing cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What an execution needs of its run; everything but `status` is immutable."""

    instructions: str
    variables: tuple[VariableDecl, ...]
    model: str | None
    temperature: float | None
    repeat: int
    cache: bool
    status: str
    executions: int


class RunCache:
    """Per replica: each run's settings read once, its status re-read at most every `ttl` s."""

    def __init__(
        self, reader: async_sessionmaker[AsyncSession], ttl: float = 1.0, size: int = 256
    ) -> None:
        self._reader = reader
        self._ttl = ttl
        self._size = size
        self._runs: OrderedDict[UUID, tuple[float, RunInfo]] = OrderedDict()

    async def get(self, run_id: UUID) -> RunInfo | None:
        cached = self._runs.get(run_id)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        async with self._reader() as session:
            run = await repo.get_run(session, run_id)
        if run is None:
            return None
        info = RunInfo(
            instructions=run.instructions,
            variables=tuple(repo.variables_of(run)),
            model=run.model,
            temperature=run.temperature,
            repeat=run.repeat,
            cache=run.cache,
            status=run.status,
            executions=run.total_cases * run.repeat,
        )
        self._runs[run_id] = (time.monotonic(), info)
        self._runs.move_to_end(run_id)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)
        return info


class Executor:
    """Stages executions (AI call + verdict) and records them in batches."""

    def __init__(
        self,
        *,
        provider: AIProvider,
        grader_model: str | None,
        runs: RunCache,
        reader: async_sessionmaker[AsyncSession],
        sessionmaker: async_sessionmaker[AsyncSession],
        notify: Notify,
        pause_limit: float,
        provider_attempts: int,
    ) -> None:
        self._provider = provider
        self._grader = ProviderGrader(provider, model=grader_model)
        self._runs = runs
        self._reader = reader
        self._sessionmaker = sessionmaker
        self._notify = notify
        self._pause_limit = pause_limit
        self._provider_attempts = provider_attempts
        self._paused_at: dict[UUID, float] = {}

    async def stage(self, envelope: Envelope[Any]) -> Execution:
        cmd: ExecuteCaseV1 = envelope.data
        metrics.queue_lag.observe(max(0.0, time.time() - envelope.time.timestamp()))
        started = time.perf_counter()
        execution = await self._execute(cmd)
        metrics.execution_duration.observe(time.perf_counter() - started)
        return execution

    async def _execute(self, cmd: ExecuteCaseV1) -> Execution:
        execution = Execution(cmd.run_id, cmd.case, cmd.repeat_index)
        run = await self._runs.get(cmd.run_id)
        if run is None or run.status == "cancelled":
            execution.skipped = True
            return execution
        try:
            system = render(run.instructions, run.variables, cmd.case.vars)
        except RenderError as exc:
            return execution.failed_to_run(f"cannot render the instructions: {exc}")
        msgs = domain.messages(system, cmd.case)
        use_cache = domain.cacheable(cmd.case, cache=run.cache, repeat=run.repeat)
        key = domain.cache_key(run.model, run.temperature, msgs) if use_cache else ""
        latency: float | None
        if use_cache and (hit := await self._cached(key)) is not None:
            output, execution.cached, latency = hit.output, True, None
            execution.prompt_tokens, execution.completion_tokens = (
                hit.prompt_tokens,
                hit.completion_tokens,
            )
        else:
            answer = await self._complete(cmd.run_id, msgs, run)
            if isinstance(answer, str):
                return execution.failed_to_run(answer)
            if answer is None:
                execution.skipped = True
                return execution
            output, latency = answer.text, answer.latency_ms
            execution.prompt_tokens = answer.prompt_tokens
            execution.completion_tokens = answer.completion_tokens
            if use_cache:
                execution.cache_entry = (
                    key,
                    output,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                )
        execution.output, execution.latency_ms = output, latency
        verdict = await evaluate(
            output,
            cmd.case.assertions,
            latency_ms=latency,
            threshold=cmd.case.threshold,
            vars=dict(cmd.case.vars),
            grader=self._grader,
        )
        return execution.judged(verdict)

    async def _cached(self, key: str) -> Any:
        async with self._reader() as session:
            return await repo.cached_response(session, key)

    async def _complete(
        self, run_id: UUID, msgs: list[dict[str, Any]], run: RunInfo
    ) -> Completion | str | None:
        """The model's answer; or the provider's error (a str) once it is not worth waiting; or
        None when the run was cancelled while waiting. While the breaker is open the execution
        waits (the run shows `paused`) rather than failing: an outage is not the agent's fault."""
        failures = 0
        paused_since: float | None = None
        while True:
            try:
                return await self._provider.complete(
                    msgs, model=run.model, temperature=run.temperature
                )
            except CircuitOpen as exc:
                reason, wait = str(exc), exc.retry_after or 0.25
            except ProviderUnavailable as exc:
                reason, wait = str(exc), exc.retry_after or min(2.0**failures, 10.0)
                if self._provider.is_available():  # not an outage: this call's own failure
                    failures += 1
                    if failures >= self._provider_attempts:
                        return f"{domain.PROVIDER_ERROR_PREFIX}{exc}"
                    paused_since = None
                    await asyncio.sleep(min(wait, 10.0))
                    continue
            except ProviderError as exc:  # rejected: retrying cannot help
                return f"{domain.PROVIDER_ERROR_PREFIX}{exc}"
            now = time.monotonic()
            paused_since = paused_since or now
            if now - paused_since > self._pause_limit:
                return f"{domain.PROVIDER_ERROR_PREFIX}unavailable for {self._pause_limit:g} s: {reason}"
            await self._pause(run_id, run, reason)
            await asyncio.sleep(min(wait, 5.0))
            current = await self._runs.get(run_id)
            if current is None or current.status == "cancelled":
                return None

    async def _pause(self, run_id: UUID, run: RunInfo, reason: str) -> None:
        """Show the run as paused (once every few seconds per replica, not per waiting call)."""
        now = time.monotonic()
        if now - self._paused_at.get(run_id, 0.0) < 5.0:
            return
        self._paused_at[run_id] = now
        async with self._sessionmaker.begin() as session:
            changed = await repo.mark_paused(session, run_id, f"AI provider unavailable: {reason}")
        if changed:
            log.warning("test_run.paused", run_id=str(run_id), reason=reason)
            await self._notify(
                RunProgressV1(
                    run_id=run_id,
                    status="paused",
                    reason=f"AI provider unavailable: {reason}",
                    executions=run.executions,
                )
            )

    async def apply(self, session: AsyncSession, staged: list[Staged]) -> Recorded:
        by_run: dict[UUID, list[tuple[Envelope[Any], Execution]]] = defaultdict(list)
        for item in staged:
            execution: Execution = item.value
            if not execution.skipped:
                by_run[execution.run_id].append((item.envelope, execution))
        emitted: list[tuple[Envelope[Any], BaseModel]] = []
        notices: list[RunProgressV1] = []
        for run_id, items in by_run.items():
            executions = [e for _, e in items]
            run = await repo.record(session, run_id, executions)
            if run is None:
                continue
            for e in executions:
                metrics.executions.labels(_outcome(e), str(e.cached).lower()).inc()
            status, reason = run.status, run.reason
            if run.executed >= run.total_cases * run.repeat:
                completed = await self._complete_run(session, run_id)
                if completed is not None:
                    emitted.append((items[-1][0], completed))
                    status, reason = "completed", None
            if status != "paused":
                self._paused_at.pop(run_id, None)
            notices.append(_progress(run_id, status, reason, run, executions))
        notify = self._notify

        async def after_commit() -> None:
            for notice in notices:
                await notify(notice)

        return Recorded(emitted, after_commit if notices else None)

    async def _complete_run(self, session: AsyncSession, run_id: UUID) -> BaseModel | None:
        outcomes = await repo.case_outcomes(session, run_id)
        counts = domain.count([o for _, o in outcomes])
        run = await repo.finish(session, run_id, "completed", counts)
        if run is None:
            return None
        metrics.runs_finished.labels("completed").inc()
        log.info("test_run.completed", run_id=str(run_id), pass_rate=counts.pass_rate)
        return TestRunCompletedV1(
            summary=repo.summary(run, counts),
            passed_cases=[c for c, o in outcomes if o == "passed"],
            failed_cases=[c for c, o in outcomes if o in ("failed", "flaky")],
            errored_cases=[c for c, o in outcomes if o == "errored"],
        )


def _outcome(execution: Execution) -> str:
    if execution.error is not None:
        return "error"
    return "pass" if execution.pass_ else "fail"


def _progress(
    run_id: UUID, status: str, reason: str | None, run: Any, executions: list[Execution]
) -> RunProgressV1:
    return RunProgressV1(
        run_id=run_id,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        executed=run.executed,
        executions=run.total_cases * run.repeat,
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


# Reading runs ----------------------------------------------------------------------------------


async def answer_get_test_run(
    query: GetTestRunV1, *, owner_id: UUID | None, session: AsyncSession
) -> TestRunV1:
    """Answers `GetTestRunV1`: the summary (live counts until the run finishes) and a page of
    results, cut short to keep the reply within NATS's payload limit."""
    run = await repo.get_run(session, query.run_id)
    if run is None or (run.owner_id is not None and run.owner_id != owner_id):
        return TestRunV1(found=False)
    if run.status in ("completed", "cancelled"):
        counts = repo.stored_counts(run)
    elif run.repeat == 1:
        counts = repo.execution_counts(run)
    else:  # a case's outcome depends on all its repeats so far
        counts = domain.count([o for _, o in await repo.case_outcomes(session, query.run_id)])
    results: list[CaseResult] = []
    next_after: tuple[int, int] | None = None
    if query.results_limit:
        rows = await repo.results_page(
            session, query.run_id, query.results_after, query.results_limit + 1
        )
        budget = REPLY_BUDGET_BYTES
        for row in rows[: query.results_limit]:
            result = CaseResult.model_validate(dict(row._mapping))
            budget -= len(result.model_dump_json())
            if budget < 0 and results:
                break
            results.append(result)
        if len(results) < len(rows):
            last = results[-1]
            next_after = (last.case_index, last.repeat_index)
    return TestRunV1(
        found=True, summary=repo.summary(run, counts), results=results, next_after=next_after
    )
