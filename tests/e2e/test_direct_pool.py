"""The agent list's own connections (gateway/direct_pool.py), seen from PostgreSQL: no more than
`DATABASE_POOL_SIZE` under a burst, kept from one request to the next (no connecting per request),
idle between requests, and all replaced once the server is found to have dropped one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from runtime import db
from tests.support.fixtures import Stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

POOL_SIZE = 3


async def for_each_direct_connection(database_url: str, what: str) -> list[sa.Row[Any]]:
    """`SELECT <what>` over the direct pool's connections to this database, seen by PostgreSQL."""
    engine = db.create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    f"SELECT {what} FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'gateway-direct'"
                )
            )
            return list(rows)
    finally:
        await engine.dispose()


async def direct_connections(database_url: str) -> dict[int, str]:
    """The backend pid and state of each of the direct pool's connections."""
    rows = await for_each_direct_connection(database_url, "pid, state")
    return {row.pid: row.state for row in rows}


async def drop_direct_connections(database_url: str) -> int:
    """What a restart of PostgreSQL does to the direct pool's connections."""
    terminated = await for_each_direct_connection(database_url, "pg_terminate_backend(pid)")
    return sum(1 for row in terminated if row[0])


async def list_at_once(url: str, token: str, requests: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        return await asyncio.gather(
            *(client.get("/api/v1/agents", params={"limit": 5}) for _ in range(requests))
        )


def test_bursts_of_lists_share_a_few_connections_kept_from_one_to_the_next(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack(DATABASE_POOL_SIZE=str(POOL_SIZE))
    gateway = stack.start("gateway")
    token = stack.new_token()
    with stack.client(token) as client:
        for n in range(8):
            assert client.post("/api/v1/agents", json={"name": f"agent {n}"}).status_code == 201

    first = asyncio.run(list_at_once(stack.gateway_url, token, 60))
    after_first = asyncio.run(direct_connections(stack.database_url))
    second = asyncio.run(list_at_once(stack.gateway_url, token, 60))
    after_second = asyncio.run(direct_connections(stack.database_url))

    answers = first + second
    assert {a.status_code for a in answers} == {200}
    pages = {tuple(agent["name"] for agent in a.json()["items"]) for a in answers}
    assert pages == {("agent 7", "agent 6", "agent 5", "agent 4", "agent 3")}
    assert 1 <= len(after_first) <= len(after_second) <= POOL_SIZE
    assert set(after_first) <= set(after_second)  # the same backends: none closed and reopened
    assert set(after_second.values()) == {"idle"}
    assert gateway.stop() == 0  # the pool closes with the app


def test_requests_refused_after_their_admission_give_their_slots_back(
    isolated_stack: Callable[..., Stack],
) -> None:
    """A list admitted and then refused (its parameters invalid, its token unknown) never reaches
    the database: its slot is given back all the same, or `DATABASE_POOL_SIZE` of them would
    leave every later request waiting."""
    stack = isolated_stack(DATABASE_POOL_SIZE=str(POOL_SIZE))
    stack.start("gateway")
    token = stack.new_token()
    with stack.client(token) as client:
        for _ in range(2 * POOL_SIZE):
            assert client.get("/api/v1/agents", params={"limit": 0}).status_code == 422
            assert client.get("/api/v1/agents", params={"cursor": "x" * 300}).status_code == 422
        with httpx.Client(base_url=stack.gateway_url, timeout=10) as stranger:
            for _ in range(2 * POOL_SIZE):
                refused = stranger.get(
                    "/api/v1/agents", headers={"Authorization": "Bearer sk-not-a-token"}
                )
                assert refused.status_code == 401
        answers = asyncio.run(list_at_once(stack.gateway_url, token, 4 * POOL_SIZE))
    assert {a.status_code for a in answers} == {200}


def test_after_the_server_drops_the_connections_one_list_fails_and_the_next_ones_work(
    isolated_stack: Callable[..., Stack],
) -> None:
    stack = isolated_stack(DATABASE_POOL_SIZE=str(POOL_SIZE))
    stack.start("gateway")
    token = stack.new_token()

    def opened() -> int:
        asyncio.run(list_at_once(stack.gateway_url, token, 30))
        return len(asyncio.run(direct_connections(stack.database_url)))

    eventually(opened, lambda n: n >= 2, what="the direct pool opening several connections")
    assert asyncio.run(drop_direct_connections(stack.database_url)) >= 2
    eventually(
        lambda: asyncio.run(direct_connections(stack.database_url)),
        lambda left: left == {},
        what="the dropped backends exiting",
    )

    with stack.client(token) as client:
        statuses = [client.get("/api/v1/agents").status_code for _ in range(2 * POOL_SIZE)]

    # The first request finds its connection dropped; the pool then replaces every other one.
    assert statuses == [500] + [200] * (2 * POOL_SIZE - 1)
