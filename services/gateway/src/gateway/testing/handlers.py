"""Handlers of the test-runner's events: they keep the gateway's run views (status, outcome) up to
date for listing."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.runs import (
    RunSummary,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunPausedV1,
    TestRunResumedV1,
    TestRunStartedV1,
)
from gateway.testing.repository import TestRunRepository


async def handle_test_runner_event(event: BaseModel, *, runs: TestRunRepository) -> list[BaseModel]:
    """Consumes the test-runner's events: `TestRunStartedV1`, `TestRunPausedV1`,
    `TestRunResumedV1`, `TestRunCompletedV1`, `TestRunCancelledV1`; emits nothing. Keeps the run
    views' status and outcome (for listing).

    Idempotency key: the run id; each update applies only from the statuses it follows, and a pause
    or resumption only when newer than the last one applied (they may be handled out of order).
    A run is `failed` only by its command's dead letter (the test-runner never reports `failed`),
    so the start and the end also apply from `failed`: the command was replayed (ADR 0008).
    """
    if isinstance(event, TestRunStartedV1):
        await runs.update_from_event(
            event.run_id, ("queued", "failed"), status="running", reason=None, finished_at=None
        )
    elif isinstance(event, TestRunPausedV1):
        await runs.update_pause(event.run_id, event.at, status="paused", reason=event.reason)
    elif isinstance(event, TestRunResumedV1):
        await runs.update_pause(event.run_id, event.at, status="running", reason=None)
    elif isinstance(event, TestRunCompletedV1 | TestRunCancelledV1):
        s: RunSummary = event.summary
        await runs.update_from_event(
            s.run_id,
            ("queued", "running", "paused", "failed"),
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
