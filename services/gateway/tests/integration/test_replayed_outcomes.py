"""Which status a worker's outcome may settle, on a real database: a request its dead letter failed
takes the outcome of its command replayed; an outcome the worker gave is never replaced by a dead
letter, nor a finished run by a start handled late."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.publishing import PublishRefusedV1
from contracts.runs import TestRunStartedV1
from gateway.agents.repository import PENDING
from gateway.models import agents, publishes, test_runs, users
from gateway.publishing.handlers import handle_publisher_event
from gateway.publishing.repository import PublishRepository
from gateway.testing import repository as testing
from gateway.testing.handlers import handle_test_runner_event
from runtime import db

pytestmark = pytest.mark.integration

GIVEN_UP = "this publish could not be carried out: the publisher gave up"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    made = db.create_engine(database_url, pool_size=2)
    yield made
    await made.dispose()


async def new_agent(engine: AsyncEngine) -> uuid.UUID:
    owner_id, agent_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(sa.insert(users).values(id=owner_id, email=f"{owner_id}@x.io"))
        await conn.execute(sa.insert(agents).values(id=agent_id, owner_id=owner_id, name="a"))
    return agent_id


async def row(engine: AsyncEngine, table: sa.Table, row_id: uuid.UUID) -> sa.RowMapping:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(table).where(table.c.id == row_id))).mappings().one()


async def test_a_publish_failed_by_its_dead_letter_takes_the_replayed_outcome(
    engine: AsyncEngine,
) -> None:
    agent_id, dead_lettered, refused = await new_agent(engine), uuid.uuid4(), uuid.uuid4()
    sessions = db.create_sessionmaker(engine)
    async with sessions.begin() as session:
        requests = PublishRepository(session)
        for request_id in (dead_lettered, refused):
            await requests.add(id=request_id, agent_id=agent_id, kind="publish")
        await requests.complete(dead_lettered, PENDING, status="failed", reason=GIVEN_UP)
    for request_id in (dead_lettered, refused):
        async with sessions.begin() as session:
            event = PublishRefusedV1(publish_id=request_id, agent_id=agent_id, reason="the gate")
            await handle_publisher_event(event, requests=PublishRepository(session))
    async with sessions.begin() as session:  # a dead letter after the worker's own outcome
        await PublishRepository(session).complete(refused, PENDING, status="failed", reason="x")

    for request_id in (dead_lettered, refused):
        settled = await row(engine, publishes, request_id)
        assert (settled["status"], settled["reason"]) == ("refused", "the gate")


async def test_a_run_failed_by_its_dead_letter_starts_when_replayed_but_a_finished_one_stays(
    engine: AsyncEngine,
) -> None:
    agent_id, dead_lettered, finished = await new_agent(engine), uuid.uuid4(), uuid.uuid4()
    sessions = db.create_sessionmaker(engine)
    async with sessions.begin() as session:
        runs = testing.TestRunRepository(session)
        for run_id in (dead_lettered, finished):
            await runs.add(
                id=run_id, agent_id=agent_id, compilation_id=uuid.uuid4(), total=1, repeat=1,
                cache=False,
            )  # fmt: skip
        given_up = {"reason": "given up", "finished_at": datetime.now(UTC)}
        await runs.update_from_event(dead_lettered, ("queued",), status="failed", **given_up)
        await runs.update_from_event(finished, ("queued",), status="completed")
    for run_id in (dead_lettered, finished):  # the start, replayed or handled late
        async with sessions.begin() as session:
            event = TestRunStartedV1(run_id=run_id, agent_id=agent_id, executions=1)
            await handle_test_runner_event(event, runs=testing.TestRunRepository(session))

    started = await row(engine, test_runs, dead_lettered)
    assert (started["status"], started["reason"], started["finished_at"]) == ("running", None, None)
    assert (await row(engine, test_runs, finished))["status"] == "completed"
