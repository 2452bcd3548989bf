"""Staging an execution, outside any transaction: render the instructions, ask the model (or the
response cache), wait out a provider outage with the run shown paused, and grade the answer.

What it produces is recorded in batches by `handlers.handle_executions`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

import structlog

from assertions import evaluate
from contracts.envelope import Envelope
from contracts.instructions import RenderError, render
from contracts.runs import ExecuteCaseV1, RunProgressV1, TestRunPausedV1
from runtime.ai import AIProvider, CircuitOpen, Completion, ProviderError, ProviderUnavailable
from testrunner import domain, metrics
from testrunner.domain import CachedResponse, Execution, Run
from testrunner.grader import ProviderGrader

log = structlog.get_logger()

T = TypeVar("T")

Notify = Callable[[RunProgressV1], Awaitable[None]]
"""Announces a run's progress (best effort, for display)."""
MarkPaused = Callable[[Envelope[Any], TestRunPausedV1], Awaitable[bool]]
"""Shows a running run as paused and emits the event (caused by the execution that waits), at
once; False when it was not running."""


class Lookups(Protocol):
    """What staging reads (`adapters.lookups.StoredLookups`)."""

    async def run(self, run_id: UUID) -> Run | None:
        """The run; its status may be a moment old."""

    async def cached_response(self, key: str) -> CachedResponse | None: ...


class Executor:
    """Stages executions; remembers per run when it last showed the run paused."""

    def __init__(
        self,
        *,
        provider: AIProvider,
        grader_model: str | None,
        lookups: Lookups,
        mark_paused: MarkPaused,
        notify: Notify,
        pause_limit: float,
        provider_attempts: int,
    ) -> None:
        self._provider = provider
        self._grader_model = grader_model
        self._lookups = lookups
        self._mark_paused = mark_paused
        self._notify = notify
        self._pause_limit = pause_limit
        self._provider_attempts = provider_attempts
        self._paused_at: dict[UUID, float] = {}

    async def stage(self, envelope: Envelope[Any]) -> Execution:
        metrics.queue_lag.observe(max(0.0, time.time() - envelope.time.timestamp()))
        started = time.perf_counter()
        execution = await self._execute(envelope)
        metrics.execution_duration.observe(time.perf_counter() - started)
        return execution

    def resumed(self, run_id: UUID) -> None:
        """The run is no longer paused: a new outage shows it paused again at once."""
        self._paused_at.pop(run_id, None)

    async def _execute(self, envelope: Envelope[Any]) -> Execution:
        cmd: ExecuteCaseV1 = envelope.data
        execution = Execution(cmd.run_id, cmd.case, cmd.repeat_index)
        run = await self._lookups.run(cmd.run_id)
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
        if use_cache and (hit := await self._lookups.cached_response(key)) is not None:
            output, execution.cached, latency = hit.output, True, None
            execution.offline = hit.offline
            execution.prompt_tokens, execution.completion_tokens = (
                hit.prompt_tokens,
                hit.completion_tokens,
            )
        else:
            answer = await self._complete(envelope, msgs, run)
            if isinstance(answer, str):
                return execution.failed_to_run(answer)
            if answer is None:
                execution.skipped = True
                return execution
            output, latency = answer.text, answer.latency_ms
            execution.offline = answer.offline
            execution.prompt_tokens = answer.prompt_tokens
            execution.completion_tokens = answer.completion_tokens
            if use_cache:
                execution.cache_entry = (
                    key,
                    output,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    answer.offline,
                )
        execution.output, execution.latency_ms = output, latency
        # The grader's calls wait out an outage the way the case's own call does.
        grader = ProviderGrader(
            self._provider,
            model=self._grader_model,
            through=lambda call: self._waiting(envelope, run, call),
        )
        verdict = await evaluate(
            output,
            cmd.case.assertions,
            latency_ms=latency,
            threshold=cmd.case.threshold,
            vars=dict(cmd.case.vars),
            grader=grader,
        )
        if grader.cancelled:
            execution.skipped = True
            return execution
        return execution.judged(verdict)

    async def _complete(
        self, cause: Envelope[Any], msgs: list[dict[str, Any]], run: Run
    ) -> Completion | str | None:
        return await self._waiting(
            cause,
            run,
            lambda: self._provider.complete(msgs, model=run.model, temperature=run.temperature),
        )

    async def _waiting(
        self, cause: Envelope[Any], run: Run, call: Callable[[], Awaitable[T]]
    ) -> T | str | None:
        """The answer of `call` (a provider call); or the provider's error (a str) once it is not
        worth waiting; or None when the run was cancelled while waiting. While the breaker is
        open the execution waits (the run shows `paused`) rather than failing: an outage is not
        the agent's fault."""
        failures = 0
        paused_since: float | None = None
        while True:
            try:
                return await call()
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
            await self._pause(cause, run, reason)
            await asyncio.sleep(min(wait, 5.0))
            current = await self._lookups.run(run.id)
            if current is None or current.status == "cancelled":
                return None

    async def _pause(self, cause: Envelope[Any], run: Run, reason: str) -> None:
        """Show the run as paused (once every few seconds per replica, not per waiting call)."""
        now = time.monotonic()
        if now - self._paused_at.get(run.id, 0.0) < 5.0:
            return
        self._paused_at[run.id] = now
        why = f"AI provider unavailable: {reason}"[:1000]
        paused = TestRunPausedV1(run_id=run.id, reason=why, at=datetime.now(UTC))
        if await self._mark_paused(cause, paused):
            log.warning("test_run.paused", run_id=str(run.id), reason=reason)
            await self._notify(
                RunProgressV1(run_id=run.id, status="paused", reason=why, executions=run.executions)
            )
