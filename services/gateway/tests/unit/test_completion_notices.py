"""A completion notice's payload, as the gateway's waiters read it (`notifications.py`): the row's
id alone, or the row as JSON; whatever else arrives wakes no one and breaks nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from gateway.notifications import COMPILATION_COMPLETED, Notifications, TokenCache


def notifications() -> Notifications:
    return Notifications("postgresql://unused", TokenCache())  # never started: no connection


# PostgreSQL's `row_to_json`, as the notice carries it: no spaces, `id` first.
COMPACT = (",", ":")


async def test_a_notice_carrying_the_row_gives_it_to_the_waiters_of_that_row() -> None:
    waiters = notifications()
    row_id, other_id = uuid.uuid4(), uuid.uuid4()
    waiting, other = waiters.register(row_id), waiters.register(other_id)
    row = {"id": str(row_id), "status": "succeeded", "instructions": 'say "hi"'}
    waiters._dispatch(COMPILATION_COMPLETED, json.dumps(row, separators=COMPACT))
    assert waiting.woken.is_set()
    assert waiting.row == row
    assert not other.woken.is_set()


async def test_a_notice_with_the_id_alone_wakes_the_waiters_without_a_row() -> None:
    waiters = notifications()
    row_id = uuid.uuid4()
    waiting = waiters.register(row_id)
    waiters._dispatch(COMPILATION_COMPLETED, str(row_id))
    assert waiting.woken.is_set()
    assert waiting.row is None


async def test_a_malformed_notice_wakes_no_one_or_carries_no_row() -> None:
    waiters = notifications()
    row_id = uuid.uuid4()
    waiting = waiters.register(row_id)
    waiters._dispatch(COMPILATION_COMPLETED, "not an id")
    waiters._dispatch(COMPILATION_COMPLETED, '{"id":"not-a-uuid-but-36-characters-long"}')
    assert not waiting.woken.is_set()
    waiters._dispatch(COMPILATION_COMPLETED, f'{{"id":"{row_id}", cut short')
    assert waiting.woken.is_set()  # woken all the same: it reads the row again
    assert waiting.row is None


async def test_a_waiter_reads_again_when_the_row_in_the_notice_does_not_fit_its_answer() -> None:
    """`from_row` refusing the row (a notice of another version's shape) costs a read, not the
    request."""
    waiters = notifications()
    waiters._listening = True  # as if connected: a waiter waits for its notice, no polling
    row_id = uuid.uuid4()
    reads: list[str] = ["pending", "done"]

    async def read() -> str:
        return reads.pop(0)

    def from_row(row: dict[str, Any]) -> str:
        raise ValueError(f"not a row of this version: {row}")

    waiting = asyncio.create_task(
        waiters.wait_for(row_id, read, lambda s: s == "done", timeout=5, from_row=from_row)
    )
    while len(reads) == 2:
        await asyncio.sleep(0.01)  # the first read
    notice = json.dumps({"id": str(row_id), "shape": "new"}, separators=COMPACT)
    waiters._dispatch(COMPILATION_COMPLETED, notice)
    assert await asyncio.wait_for(waiting, timeout=10) == "done"
    assert reads == []
