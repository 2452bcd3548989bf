"""The test-runner's consumers, handlers and repository against real PostgreSQL and NATS
JetStream, in this process (the offline AI provider answers at once): a run's snapshot, its
fan-out in chunks (one execution per case x repeat whatever is redelivered, none after a cancel),
its executions and their dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.envelope import Envelope
from contracts.runs import (
    AddRunCasesV1,
    CancelTestRunV1,
    ExecuteCaseV1,
    FanOutRunV1,
    GetTestRunV1,
    RunCase,
    StartTestRunV1,
    TestRunCancelledV1,
    TestRunCompletedV1,
    TestRunStartedV1,
    TestRunV1,
)
from runtime.retention import DAY, Pruner
from runtime.service import AnyBinding, Binding, Service
from runtime.settings import CommonSettings
from runtime.staged import StagedBinding
from testrunner.models import metadata, response_cache, results, runs
from testrunner.settings import TestRunnerSettings
from testrunner.worker import SERVICE, bindings
from tests.support.inprocess import RunningService, eventually, running_service

pytestmark = pytest.mark.integration

OWNER = uuid.uuid4()
NEVER = "zz-not-in-any-answer"


def runner_of(
    postgres_url: str,
    nats_url: str,
    bindings_of: Any = bindings,
    max_deliver: int = 3,
    fan_out_chunk: int = 500,
) -> AbstractAsyncContextManager[RunningService]:
    """The test-runner on a database and subject root of its own."""

    def settings_of(url: str, root: str) -> CommonSettings:
        return TestRunnerSettings(
            database_url=url,
            nats_url=nats_url,
            nats_subject_root=root,
            ai_provider="offline",
            ack_wait_seconds=2,
            max_deliver=max_deliver,
            fan_out_chunk=fan_out_chunk,
        )

    return running_service(
        SERVICE, settings_of, metadata, bindings_of, postgres_url=postgres_url, nats_url=nats_url
    )


@pytest.fixture
async def runner(postgres_url: str, nats_url: str) -> AsyncIterator[RunningService]:
    async with runner_of(postgres_url, nats_url) as running:
        yield running


def case(index: int, assertion: str) -> RunCase:
    return RunCase.model_validate(
        {
            "index": index,
            "test_case_id": uuid.uuid4(),
            "input": f"question {index}",
            "assert": [{"type": assertion, "value": NEVER}],
        }
    )


def start(total: int, repeat: int = 1) -> StartTestRunV1:
    return StartTestRunV1(
        run_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        compilation_id=uuid.uuid4(),
        instructions="You answer questions.",
        repeat=repeat,
        total_cases=total,
    )


async def test_a_run_whose_cases_arrive_first_is_executed_graded_and_completed_once(
    runner: RunningService,
) -> None:
    cmd = start(3, repeat=2)
    passing, failing, other = case(0, "not-contains"), case(1, "contains"), case(2, "not-contains")
    await runner.send(subjects.ADD_RUN_CASES, AddRunCasesV1(run_id=cmd.run_id, cases=[failing]))
    await runner.send(
        subjects.ADD_RUN_CASES, AddRunCasesV1(run_id=cmd.run_id, cases=[passing, other])
    )
    await runner.send(subjects.START_TEST_RUN, cmd, owner_id=OWNER)

    async def status() -> str | None:
        found: str | None = await runner.scalar(
            sa.select(runs.c.status).where(runs.c.id == cmd.run_id)
        )
        return found if found == "completed" else None

    assert await eventually(status) == "completed"
    assert await runner.count(results, results.c.run_id == cmd.run_id) == 6
    completed = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_COMPLETED)
    assert [type(e) for e in completed] == [TestRunCompletedV1]
    summary = completed[0].summary
    assert (summary.passed, summary.failed, summary.executed, summary.pass_rate) == (2, 1, 6, 2 / 3)
    assert completed[0].failed_cases == [failing.test_case_id]
    (started,) = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_STARTED)
    assert isinstance(started, TestRunStartedV1)
    assert started.executions == 6

    reply = await runner.ask(
        subjects.GET_TEST_RUN, GetTestRunV1(run_id=cmd.run_id, results_limit=4), owner_id=OWNER
    )
    assert isinstance(reply, TestRunV1)
    assert reply.summary == summary
    assert [(r.case_index, r.repeat_index) for r in reply.results] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert reply.next_after == (1, 1)
    # The offline stand-in answered: every result says so, through the query the API reads.
    assert [r.offline for r in reply.results] == [True] * 4
    assert await runner.count(results, results.c.offline.is_(False)) == 0
    stranger = await runner.ask(subjects.GET_TEST_RUN, GetTestRunV1(run_id=cmd.run_id))
    assert stranger == TestRunV1(found=False)


async def test_a_cancel_before_its_run_waits_for_it_and_the_cancelled_run_never_fans_out(
    runner: RunningService,
) -> None:
    cmd = start(2)
    await runner.send(subjects.CANCEL_TEST_RUN, CancelTestRunV1(run_id=cmd.run_id, reason="oops"))
    await runner.send(subjects.START_TEST_RUN, cmd, owner_id=OWNER)

    async def cancelled() -> list[object]:
        return await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_CANCELLED)

    (event,) = await eventually(cancelled)
    assert isinstance(event, TestRunCancelledV1)
    assert (event.summary.status, event.summary.reason) == ("cancelled", "oops")
    # The snapshot completes after the cancel: nothing runs.
    await runner.send(
        subjects.ADD_RUN_CASES,
        AddRunCasesV1(run_id=cmd.run_id, cases=[case(0, "contains"), case(1, "contains")]),
    )
    await runner.send(subjects.CANCEL_TEST_RUN, CancelTestRunV1(run_id=cmd.run_id))

    async def all_applied() -> bool:
        # start, the cancel (once the start was applied), the cases, the second cancel
        return await runner.count(metadata.tables["test_runner.processed_messages"]) >= 4

    assert await eventually(all_applied) is True
    assert await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_STARTED) == []
    assert len(await cancelled()) == 1
    assert await runner.count(results, results.c.run_id == cmd.run_id) == 0


async def test_cached_responses_past_their_retention_are_pruned(runner: RunningService) -> None:
    [rule] = [r for r in runner.service.retention if r.table is response_cache]
    assert rule.keep_seconds == 30 * DAY  # TEST_RUNNER_RESPONSE_CACHE_RETENTION_DAYS
    row = {"output": "cached", "prompt_tokens": 1, "completion_tokens": 1}
    async with runner.service.sessionmaker.begin() as session:
        await session.execute(
            sa.insert(response_cache),
            [
                {**row, "key": "old", "created_at": datetime.now(UTC) - timedelta(days=31)},
                {**row, "key": "fresh", "created_at": datetime.now(UTC)},
            ],
        )

    await Pruner(runner.service.sessionmaker, [rule]).prune()

    async with runner.service.reader() as session:
        keys = (await session.execute(sa.select(response_cache.c.key))).scalars().all()
    assert keys == ["fresh"]


def with_a_bug_in_case(index: int) -> Any:
    """The real bindings, with staging failing every delivery of one case (as a bug would)."""

    def broken_bindings(service: Service) -> Sequence[AnyBinding]:
        resolved = list(bindings(service))
        for i, binding in enumerate(resolved):
            if isinstance(binding, StagedBinding):

                async def failing(envelope: Envelope[Any], stage: Any = binding.stage) -> Any:
                    cmd: ExecuteCaseV1 = envelope.data
                    if cmd.case.index == index:
                        raise RuntimeError("a bug in staging this case")
                    return await stage(envelope)

                resolved[i] = dataclasses.replace(binding, stage=failing)
        return resolved

    return broken_bindings


async def test_a_dead_lettered_execution_becomes_an_error_result_and_the_run_completes(
    postgres_url: str, nats_url: str
) -> None:
    """The real consumer loop dead-letters the execution that fails every delivery; the
    test-runner's own dead-letter consumer records it as an `error` result naming why."""
    broken = 1
    cmd = start(3)
    cases = [case(0, "not-contains"), case(broken, "not-contains"), case(2, "not-contains")]
    async with runner_of(postgres_url, nats_url, with_a_bug_in_case(broken), 2) as runner:
        await runner.send(subjects.ADD_RUN_CASES, AddRunCasesV1(run_id=cmd.run_id, cases=cases))
        await runner.send(subjects.START_TEST_RUN, cmd)

        async def completed() -> str | None:
            found: str | None = await runner.scalar(
                sa.select(runs.c.status).where(runs.c.id == cmd.run_id)
            )
            return found if found == "completed" else None

        assert await eventually(completed, timeout=60) == "completed"
        async with runner.service.reader() as session:
            found = (
                await session.execute(
                    sa.select(results.c.case_index, results.c.error)
                    .where(results.c.run_id == cmd.run_id)
                    .order_by(results.c.case_index)
                )
            ).all()
        (done,) = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.TEST_RUN_COMPLETED)
    assert [index for index, _ in found] == [0, 1, 2]  # exactly one result per case
    errors: dict[int, str | None] = {index: error for index, error in found}  # noqa: C416
    assert (errors[0], errors[2]) == (None, None)
    reason = errors[broken] or ""
    assert reason.startswith("this execution could not be carried out: ")
    assert "the test-runner failed to apply it 2 times in a row" in reason
    assert isinstance(done, TestRunCompletedV1)
    assert done.errored_cases == [cases[broken].test_case_id]
    assert (done.summary.executed, done.summary.errored) == (3, 1)


# Fanning out in chunks -------------------------------------------------------------------------

processed = metadata.tables["test_runner.processed_messages"]


async def executions_sent(runner: RunningService) -> list[tuple[int, int]]:
    """The `(repeat, case index)` of every `ExecuteCaseV1` in the stream, sorted."""
    sent = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.EXECUTE_CASE)
    return sorted((e.repeat_index, e.case.index) for e in sent if isinstance(e, ExecuteCaseV1))


async def status_of(runner: RunningService, run_id: Any) -> str:
    return str(await runner.scalar(sa.select(runs.c.status).where(runs.c.id == run_id)))


async def test_a_run_fans_out_in_chunks_with_one_execution_per_case_and_repeat(
    postgres_url: str, nats_url: str
) -> None:
    cmd = start(7, repeat=3)  # 21 executions: chunks of 4 make 6 transactions
    async with runner_of(postgres_url, nats_url, fan_out_chunk=4) as runner:
        await runner.send(
            subjects.ADD_RUN_CASES,
            AddRunCasesV1(run_id=cmd.run_id, cases=[case(i, "not-contains") for i in range(7)]),
        )
        await runner.send(subjects.START_TEST_RUN, cmd)

        async def completed() -> bool:
            return await status_of(runner, cmd.run_id) == "completed"

        assert await eventually(completed, timeout=60) is True
        chunks = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.FAN_OUT_RUN)
        assert [c.offset for c in chunks] == [4, 8, 12, 16, 20]
        # Redelivered past the inbox (a new message id), a chunk command finds the cursor moved on.
        applied = await runner.count(processed)
        await runner.send(subjects.FAN_OUT_RUN, FanOutRunV1(run_id=cmd.run_id, offset=8))

        async def redelivery_applied() -> bool:
            return await runner.count(processed) > applied

        assert await eventually(redelivery_applied) is True
        sent = await executions_sent(runner)
        stored = await runner.count(results, results.c.run_id == cmd.run_id)
    assert sent == [(r, i) for r in range(3) for i in range(7)]  # each exactly once
    assert stored == 21


def with_fan_out_held(gate: asyncio.Event) -> Any:
    """The real bindings, with every `FanOutRunV1` waiting for `gate` before it is applied."""

    def held_bindings(service: Service) -> Sequence[AnyBinding]:
        resolved = list(bindings(service))
        for i, binding in enumerate(resolved):
            if isinstance(binding, Binding) and binding.durable == subjects.TEST_RUNNER_FAN_OUT_RUN:

                async def held(
                    envelope: Envelope[Any], session: AsyncSession, apply: Any = binding.handler
                ) -> Any:
                    await gate.wait()
                    return await apply(envelope, session)

                resolved[i] = dataclasses.replace(binding, handler=held)
        return resolved

    return held_bindings


async def test_a_run_cancelled_mid_fan_out_emits_no_further_executions(
    postgres_url: str, nats_url: str
) -> None:
    cmd = start(6)
    gate = asyncio.Event()
    async with runner_of(
        postgres_url, nats_url, with_fan_out_held(gate), fan_out_chunk=2
    ) as runner:
        await runner.send(
            subjects.ADD_RUN_CASES,
            AddRunCasesV1(run_id=cmd.run_id, cases=[case(i, "not-contains") for i in range(6)]),
        )
        await runner.send(subjects.START_TEST_RUN, cmd)

        async def first_chunk_recorded() -> bool:
            return await runner.count(results, results.c.run_id == cmd.run_id) == 2

        assert await eventually(first_chunk_recorded, timeout=30) is True
        await runner.send(subjects.CANCEL_TEST_RUN, CancelTestRunV1(run_id=cmd.run_id))

        async def cancelled() -> bool:
            return await status_of(runner, cmd.run_id) == "cancelled"

        assert await eventually(cancelled) is True
        applied = await runner.count(processed)
        gate.set()  # the second chunk's command, held meanwhile, now finds the run cancelled

        async def fan_out_applied() -> bool:
            return await runner.count(processed) > applied

        assert await eventually(fan_out_applied) is True
        sent = await executions_sent(runner)
        chunks = await runner.events(subjects.TEST_RUNNER_STREAM, subjects.FAN_OUT_RUN)
    assert sent == [(0, 0), (0, 1)]
    assert [c.offset for c in chunks] == [2]
