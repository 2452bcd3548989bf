"""The long-lived heap: modules deferred past readiness are loaded once serving, then frozen out of
the collector's scans."""

from __future__ import annotations

import gc
import sys

from runtime import heap

DEFERRED = "tabnanny"  # a module nothing here loads


async def test_deferred_modules_load_once_serving_and_are_frozen() -> None:
    assert DEFERRED not in sys.modules
    heap.load_after_ready(DEFERRED)
    polls: list[bool] = []

    def serving() -> bool:  # not serving on the first look
        polls.append(True)
        return len(polls) > 1

    frozen_before = gc.get_freeze_count()
    await heap.settle(serving, after_seconds=0)

    assert len(polls) == 2
    assert DEFERRED in sys.modules
    assert gc.get_freeze_count() > frozen_before
