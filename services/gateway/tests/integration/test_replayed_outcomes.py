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
from contracts.registry import envelope_for
from contracts.runs import FanOutRunV1, RunSummary, TestRunCompletedV1, TestRunStartedV1
from gateway.agents.repository import PENDING
from gateway.dead_letters import handle_dead_letter
from gateway.models import agents, publishes, test_runs, users
from gateway.privacy.repository import ErasureRepository
from gateway.publishing.handlers import handle_publisher_event
from gateway.publishing.repository import PublishRepository
from gateway.specs.repository import CompilationOutcomes
from gateway.testing import repository as testing
from gateway.testing.handlers import handle_test_runner_event
from runtime import db
from runtime.dead_letter_consumer import DeadLetter

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


async def test_a_run_whose_fan_out_is_dead_lettered_fails_then_completes_once_replayed(
    engine: AsyncEngine,
) -> None:
    """Without its next chunk a run could never complete: the dead letter fails it with a reason,
    and the chunk replayed after a fix lets the run's completion take over."""
    agent_id, run_id, compilation_id = await new_agent(engine), uuid.uuid4(), uuid.uuid4()
    sessions = db.create_sessionmaker(engine)
    async with sessions.begin() as session:
        runs = testing.TestRunRepository(session)
        await runs.add(
            id=run_id, agent_id=agent_id, compilation_id=compilation_id, total=600, repeat=1,
            cache=False,
        )  # fmt: skip
        await runs.update_from_event(run_id, ("queued",), status="running")
    chunk = FanOutRunV1(run_id=run_id, offset=500)
    letter = DeadLetter(
        subject="test_runner.cmd.fan_out_run.v1",
        envelope=envelope_for(chunk, source="test-runner", correlation_id=run_id, owner_id=None),
        reason="failed 5 deliveries, last: OperationalError('the store refused')",
        consumer="test_runner--fan_out_run",
        deliveries=5,
    )

    async with sessions.begin() as session:
        await handle_dead_letter(
            letter,
            compilations=CompilationOutcomes(session),
            runs=testing.TestRunRepository(session),
            requests=PublishRepository(session),
            erasures=ErasureRepository(session),
        )

    failed = await row(engine, test_runs, run_id)
    assert failed["status"] == "failed"
    assert failed["reason"].startswith("this test run could not be carried out: the test-runner")
    assert failed["finished_at"] is not None
    now = datetime.now(UTC)
    summary = RunSummary(
        run_id=run_id, agent_id=agent_id, compilation_id=compilation_id, status="completed",
        total=600, repeat=1, executions=600, executed=600, passed=600, failed=0, errored=0,
        flaky=0, pass_rate=1.0, created_at=now, finished_at=now,
    )  # fmt: skip
    async with sessions.begin() as session:
        await handle_test_runner_event(
            TestRunCompletedV1(summary=summary), runs=testing.TestRunRepository(session)
        )
    completed = await row(engine, test_runs, run_id)
    assert (completed["status"], completed["reason"], completed["passed"]) == (
        "completed",
        None,
        600,
    )
