"""A dead-lettered execution still ends its case: real PostgreSQL and NATS JetStream, the real
consumer loop dead-lettering an execution that fails every delivery, and the test-runner's own
dead-letter consumer recording it as an `error` result so that the run completes."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from contracts import subjects
from contracts.envelope import Envelope
from contracts.runs import AddRunCasesV1, ExecuteCaseV1, RunCase, StartTestRunV1, TestRunCompletedV1
from runtime.service import AnyBinding, Service
from runtime.settings import CommonSettings
from runtime.staged import StagedBinding
from testrunner.models import metadata, results, runs
from testrunner.settings import TestRunnerSettings
from testrunner.worker import SERVICE, bindings
from tests.support.inprocess import RunningService, eventually, running_service

pytestmark = pytest.mark.integration

BROKEN_CASE = 1


def with_a_bug_in_case(index: int) -> Any:
    """The real bindings, with staging failing every delivery of one case (as a bug would)."""

    def broken_bindings(service: Service) -> Sequence[AnyBinding]:
        resolved = list(bindings(service))
        for i, binding in enumerate(resolved):
            if isinstance(binding, StagedBinding):
                stage = binding.stage

                async def failing(envelope: Envelope[Any], stage: Any = stage) -> Any:
                    cmd: ExecuteCaseV1 = envelope.data
                    if cmd.case.index == index:
                        raise RuntimeError("a bug in staging this case")
                    return await stage(envelope)

                resolved[i] = dataclasses.replace(binding, stage=failing)
        return resolved

    return broken_bindings


@pytest.fixture
async def runner(postgres_url: str, nats_url: str) -> AsyncIterator[RunningService]:
    def settings_of(url: str, root: str) -> CommonSettings:
        return TestRunnerSettings(
            database_url=url,
            nats_url=nats_url,
            nats_subject_root=root,
            ai_provider="offline",
            ack_wait_seconds=2,
            max_deliver=2,
        )

    async with running_service(
        SERVICE,
        settings_of,
        metadata,
        with_a_bug_in_case(BROKEN_CASE),
        postgres_url=postgres_url,
        nats_url=nats_url,
    ) as running:
        yield running


def case(index: int) -> RunCase:
    return RunCase.model_validate(
        {
            "index": index,
            "test_case_id": uuid.uuid4(),
            "input": f"question {index}",
            "assert": [{"type": "not-contains", "value": "zz-never"}],
        }
    )


async def test_a_dead_lettered_execution_becomes_an_error_result_and_the_run_completes(
    runner: RunningService,
) -> None:
    run_id = uuid.uuid4()
    cases = [case(0), case(BROKEN_CASE), case(2)]
    await runner.send(subjects.ADD_RUN_CASES, AddRunCasesV1(run_id=run_id, cases=cases))
    start = StartTestRunV1(
        run_id=run_id,
        agent_id=uuid.uuid4(),
        compilation_id=uuid.uuid4(),
        instructions="You answer questions.",
        total_cases=len(cases),
    )
    await runner.send(subjects.START_TEST_RUN, start)

    async def completed() -> str | None:
        found: str | None = await runner.scalar(sa.select(runs.c.status).where(runs.c.id == run_id))
        return found if found == "completed" else None

    assert await eventually(completed, timeout=60) == "completed"
    async with runner.service.reader() as session:
        found = (
            await session.execute(
                sa.select(results.c.case_index, results.c.error)
                .where(results.c.run_id == run_id)
                .order_by(results.c.case_index)
            )
        ).all()
    assert [index for index, _ in found] == [0, 1, 2]  # exactly one result per case
    errors: dict[int, str | None] = {index: error for index, error in found}  # noqa: C416
    assert (errors[0], errors[2]) == (None, None)
    reason = errors[BROKEN_CASE] or ""
    assert reason.startswith("this execution could not be carried out: ")
    assert "the test-runner failed to apply it 2 times in a row" in reason
    (done,) = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_COMPLETED)
    assert isinstance(done, TestRunCompletedV1)
    assert done.errored_cases == [cases[BROKEN_CASE].test_case_id]
    assert (done.summary.executed, done.summary.errored) == (3, 1)
