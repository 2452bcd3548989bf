"""The runtime's tests share the delivery bed (tests/support/delivery.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from tests.support.delivery import Bed, delivery_bed


@pytest.fixture
async def bed(database_url: str, nats_url: str, js: JetStreamContext) -> AsyncIterator[Bed]:
    async with delivery_bed(database_url, nats_url, js) as opened:
        yield opened
