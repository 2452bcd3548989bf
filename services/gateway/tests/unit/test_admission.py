"""Unit tests of the bound on requests using the database: its size, its order, early release."""

from __future__ import annotations

import asyncio

from gateway.admission import Admission


def test_admits_as_many_requests_as_the_pool_size() -> None:
    assert Admission(pool_size=10).limit == 10


async def test_waiting_requests_are_admitted_in_arrival_order_and_newcomers_queue_behind() -> None:
    admission = Admission(pool_size=1)
    order: list[str] = []
    first = admission.slot()
    await first.__aenter__()

    async def request(name: str) -> None:
        async with admission.slot():
            order.append(name)

    waiting = [asyncio.create_task(request(name)) for name in ("a", "b")]
    await asyncio.sleep(0)  # both are queued now
    await first.__aexit__(None, None, None)
    # Asks at once, before the woken waiter has run: a pool's queue would let it through first.
    async with admission.slot():
        order.append("newcomer")
    await asyncio.gather(*waiting)
    assert order == ["a", "b", "newcomer"]


async def test_a_slot_released_early_is_not_released_again_when_the_request_ends() -> None:
    admission = Admission(pool_size=1)
    async with admission.slot() as slot:
        slot.release()
        slot.release()
        async with admission.slot():  # the one place is free again, and only one
            blocked = asyncio.create_task(admission.slot().__aenter__())
            await asyncio.sleep(0)
            assert not blocked.done()
            blocked.cancel()
