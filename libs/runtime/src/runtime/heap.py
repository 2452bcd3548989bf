"""The long-lived heap, kept out of the garbage collector's full scans.

A full collection scans every tracked object not frozen, and stops the event loop while it does:
about 30-67 ms in a serving gateway whose SDK modules were loaded after the freeze at start
(100,000 objects), which every request in flight waits for. So what lives as long as the process
is frozen: what is loaded at start (`freeze`, before serving), and the modules a service loads
only after it is ready, so as not to pay for them before readiness (`load_after_ready`, then
`settle` once ready).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Callable

_after_ready: list[str] = []


def load_after_ready(*modules: str) -> None:
    """Modules this process will use but need not load before it is ready."""
    _after_ready.extend(m for m in modules if m not in _after_ready)


def freeze() -> None:
    """Collect what is garbage now, then keep every surviving object out of later collections."""
    gc.collect()
    gc.freeze()


async def settle(serving: Callable[[], bool], after_seconds: float = 2.0) -> None:
    """Once serving, and `after_seconds` more (an SDK's import holds the loop for about half a
    second: readiness is answered first), load the deferred modules, then freeze again.

    Frozen objects are never collected as cycles; what is in flight at this moment (a request or
    two) is therefore kept until freed by reference counting, once, which is the price of this.
    """
    while not serving():
        await asyncio.sleep(0.05)
    await asyncio.sleep(after_seconds)
    for module in _after_ready:
        importlib.import_module(module)
        await asyncio.sleep(0)
    freeze()
