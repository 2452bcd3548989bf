"""Handlers of the events the gateway consumes: they keep its compilation views up to date."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.compiler import AgentCompiledV1, CompilationFailedV1
from contracts.publishing import (
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    PublishRefusedV1,
    VersionPublishedV1,
)
from contracts.runs import (
    RunSummary,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunPausedV1,
    TestRunResumedV1,
    TestRunStartedV1,
)
from gateway.repository import CompilationRepository, PublishRepository, TestRunRepository


async def handle_compiler_event(
    event: BaseModel, *, compilations: CompilationRepository
) -> list[BaseModel]:
    """Consumes the compiler's events: `AgentCompiledV1`, `CompilationFailedV1`; emits nothing.

    Idempotency key: the compilation id; only a pending view is completed, so a replay is a no-op.
    Events it has no use for (e.g. ones added later) are ignored: a tolerant reader.
    """
    if isinstance(event, AgentCompiledV1):
        await compilations.complete(
            event.compilation_id,
            status="succeeded",
            instructions=event.instructions,
            sections=[s.model_dump() for s in event.sections],
            spec_hash=event.spec_hash,
            compiler_version=event.compiler_version,
            variables=[v.model_dump(mode="json") for v in event.variables],
            token_count=event.token_count,
            token_count_method=event.token_count_method,
            reused_from=event.reused_from,
        )
    elif isinstance(event, CompilationFailedV1):
        await compilations.complete(event.compilation_id, status="failed", error=event.error)
    return []


async def handle_test_runner_event(event: BaseModel, *, runs: TestRunRepository) -> list[BaseModel]:
    """Consumes the test-runner's events: `TestRunStartedV1`, `TestRunPausedV1`,
    `TestRunResumedV1`, `TestRunCompletedV1`, `TestRunCancelledV1`; emits nothing. Keeps the run
    views' status and outcome (for listing).

    Idempotency key: the run id; each update applies only from the statuses it follows, and a pause
    or resumption only when newer than the last one applied (they may be handled out of order).
    """
    if isinstance(event, TestRunStartedV1):
        await runs.update_from_event(event.run_id, ("queued",), status="running")
    elif isinstance(event, TestRunPausedV1):
        await runs.update_pause(event.run_id, event.at, status="paused", reason=event.reason)
    elif isinstance(event, TestRunResumedV1):
        await runs.update_pause(event.run_id, event.at, status="running", reason=None)
    elif isinstance(event, TestRunCompletedV1 | TestRunCancelledV1):
        s: RunSummary = event.summary
        await runs.update_from_event(
            s.run_id,
            ("queued", "running", "paused"),
            status=s.status,
            reason=s.reason,
            passed=s.passed,
            failed=s.failed,
            errored=s.errored,
            flaky=s.flaky,
            pass_rate=s.pass_rate,
            finished_at=s.finished_at,
        )
    return []


async def handle_publisher_event(
    event: BaseModel, *, requests: PublishRepository
) -> list[BaseModel]:
    """Consumes the publisher's events: the outcomes of the publishes and moves asked for here.

    Idempotency key: the request id (`publish_id`, `move_id`); only a pending view completes.
    """
    if isinstance(event, VersionPublishedV1):
        await requests.complete(
            event.publish_id, status="done", version=event.version.number, channel=event.channel
        )
    elif isinstance(event, PublishRefusedV1):
        await requests.complete(
            event.publish_id,
            status="refused",
            reason=event.reason,
            regressions=[str(c) for c in event.regressions],
        )
    elif isinstance(event, ChannelMovedV1) and event.move_id is not None:
        await requests.complete(event.move_id, status="done", seq=event.move.seq)
    elif isinstance(event, ChannelMoveRefusedV1):
        await requests.complete(event.move_id, status="refused", reason=event.reason)
    return []
