"""A user's erasure in the test-runner, against real PostgreSQL and NATS JetStream: runs,
snapshots (also of a run whose start had not arrived), results and the cached answers go; a start
of that user's arriving afterwards writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from contracts import subjects
from contracts.privacy import EraseTestRunsV1, TestRunsErasedV1
from contracts.runs import AddRunCasesV1, RunCase, StartTestRunV1
from runtime.settings import CommonSettings
from testrunner.models import erased_owners, metadata, response_cache, results, run_cases, runs
from testrunner.settings import TestRunnerSettings
from testrunner.worker import SERVICE, bindings
from tests.support.inprocess import RunningService, eventually, running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def runner(postgres_url: str, nats_url: str) -> AsyncIterator[RunningService]:
    def settings_of(url: str, root: str) -> CommonSettings:
        return TestRunnerSettings(
            database_url=url, nats_url=nats_url, nats_subject_root=root, ai_provider="offline"
        )

    async with running_service(
        SERVICE, settings_of, metadata, bindings, postgres_url=postgres_url, nats_url=nats_url
    ) as running:
        yield running


async def idle(runner: RunningService, durable: subjects.Durable) -> bool:
    info = await runner.service.js.consumer_info(
        durable.stream.full_name(runner.root), durable.name
    )
    return bool(info.num_pending + info.num_ack_pending == 0)


def case(index: int, assertion: str) -> RunCase:
    return RunCase.model_validate(
        {
            "index": index,
            "test_case_id": uuid.uuid4(),
            "input": f"question {index}",
            "assert": [{"type": assertion, "value": "zz-not-in-any-answer"}],
        }
    )


def start(total: int) -> StartTestRunV1:
    return StartTestRunV1(
        run_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        compilation_id=uuid.uuid4(),
        instructions="You answer questions.",
        repeat=1,
        total_cases=total,
        cache=True,
    )


async def test_an_erasure_leaves_no_run_of_the_user_and_a_late_start_writes_nothing(
    runner: RunningService,
) -> None:
    user = uuid.uuid4()
    done = start(2)
    await runner.send(
        subjects.ADD_RUN_CASES,
        AddRunCasesV1(run_id=done.run_id, cases=[case(0, "not-contains"), case(1, "contains")]),
        owner_id=user,
    )
    await runner.send(subjects.START_TEST_RUN, done, owner_id=user)
    completed = runs.c.id == done.run_id, runs.c.status == "completed"
    assert await eventually(lambda: runner.count(runs, *completed)) == 1
    assert await runner.count(response_cache) == 2
    # A run whose cases are stored but whose start has not arrived yet.
    queued = start(1).model_copy(update={"agent_id": done.agent_id})
    await runner.send(
        subjects.ADD_RUN_CASES,
        AddRunCasesV1(run_id=queued.run_id, cases=[case(0, "contains")]),
        owner_id=user,
    )
    assert await eventually(lambda: runner.count(run_cases, run_cases.c.run_id == queued.run_id))

    erase = EraseTestRunsV1(
        erasure_id=uuid.uuid4(),
        user_id=user,
        agent_ids=[done.agent_id],
        part=0,
        parts=1,
        queued_run_ids=[queued.run_id],
    )
    await runner.send(subjects.ERASE_TEST_RUNS, erase, owner_id=user)

    async def erased() -> list[object]:
        return await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUNS_ERASED)

    (event,) = await eventually(erased)
    assert isinstance(event, TestRunsErasedV1)
    assert event.erased == {"runs": 1, "run_cases": 3, "results": 2, "response_cache": 2}
    assert [await runner.count(t) for t in (runs, run_cases, results, response_cache)] == [0] * 4
    assert await runner.scalar(sa.select(erased_owners.c.owner_id)) == user
    await runner.send(subjects.START_TEST_RUN, queued, owner_id=user)  # sent before, late
    assert await eventually(lambda: idle(runner, subjects.TEST_RUNNER_START_TEST_RUN))
    assert await runner.count(runs) == 0
