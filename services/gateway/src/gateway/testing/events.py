"""A run's Server-Sent Events: live progress notices from the test-runner over NATS, checked
against its query."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from contracts.runs import RunProgressV1, progress_subject
from gateway.testing.repository import TestRunView
from gateway.testing.results import FINISHED, RunResults


async def progress(
    runs: RunResults, view: TestRunView, reread: Callable[[], Awaitable[TestRunView]]
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Server-sent events of one run: a `snapshot`, `progress` as results land (live notices,
    checked against the query every 2 s since notices are at most once), then one `completed`,
    `cancelled` or `failed` with the final summary. The gateway's view is read again at each
    check while the test-runner does not know the run: a run whose start was given up fails
    there (`reread`)."""
    notices: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

    async def on_notice(msg: Any) -> None:
        if not notices.full():
            notices.put_nowait(msg.data)

    # Subscribed before the first read, so nothing between the two is missed.
    sub = await runs.nc.subscribe(
        progress_subject(runs.settings.nats_subject_root, view.id), cb=on_notice
    )
    try:
        summary = await runs.summary(view)
        yield "snapshot", summary.model_dump(mode="json")
        last = (summary.status, summary.executed)
        while summary.status not in FINISHED:
            try:
                data = await asyncio.wait_for(notices.get(), timeout=2.0)
            except TimeoutError:
                if summary.status == "queued":
                    view = await reread()
                summary = await runs.summary(view)
                if (summary.status, summary.executed) != last:
                    last = (summary.status, summary.executed)
                    yield (
                        "progress",
                        {
                            "status": summary.status,
                            "reason": summary.reason,
                            "executed": summary.executed,
                            "executions": summary.executions,
                            "results": [],
                        },
                    )
                continue
            notice = RunProgressV1.model_validate_json(data)
            yield "progress", notice.model_dump(mode="json", by_alias=True, exclude={"run_id"})
            if notice.status in FINISHED:
                summary = await runs.summary(view)
        yield summary.status, summary.model_dump(mode="json")
    finally:
        await sub.unsubscribe()
