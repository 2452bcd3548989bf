"""Storing a run's cases (`RunRepository.add_cases`) and recording a batch of results
(`RunRepository.record`) against real PostgreSQL: each chunk and each batch travels as one JSON
document, and comes back as it went in, but for what PostgreSQL cannot hold."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.runs import RunCase, StartTestRunV1
from runtime import db
from testrunner.domain import Execution
from testrunner.models import response_cache, results, run_cases, runs
from testrunner.repository import RunRepository

pytestmark = pytest.mark.integration

OWNER = uuid.uuid4()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test session's migrated database: the repository alone, no service."""
    engine = db.create_engine(database_url, pool_size=1)
    try:
        yield db.create_sessionmaker(engine)
    finally:
        await engine.dispose()


def case(index: int) -> RunCase:
    return RunCase.model_validate(
        {
            "index": index,
            "test_case_id": uuid.uuid4(),
            "description": f"case {index}",
            "input": f"question {index}",
            "assert": [{"type": "contains", "value": "answer"}],
        }
    )


async def running_run(sessions: async_sessionmaker[AsyncSession], total: int) -> uuid.UUID:
    cmd = StartTestRunV1(
        run_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        compilation_id=uuid.uuid4(),
        instructions="You answer questions.",
        total_cases=total,
    )
    async with sessions.begin() as session:
        await RunRepository(session).add(cmd, OWNER)
        await session.execute(runs.update().where(runs.c.id == cmd.run_id).values(status="running"))
    return cmd.run_id


async def stored_results(
    sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID
) -> dict[int, sa.Row[Any]]:
    async with sessions() as session:
        rows = await session.execute(sa.select(results).where(results.c.run_id == run_id))
        return {row.case_index: row for row in rows}


async def test_a_chunk_of_cases_is_stored_as_given_and_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The chunk travels as one JSON document: each case comes back to the fan-out as it went in
    (text with quotes, backslashes, newlines and non-ASCII, vars, assertions, a threshold), at its
    own index, and a chunk delivered again stores nothing twice."""
    odd = 'say "hi" \\ then\nnewline, café 猫 🙂 \\u0000'
    cases = [
        RunCase.model_validate(
            {
                "index": index,
                "test_case_id": uuid.uuid4(),
                "description": None if index == 3 else f"{odd} {index}",
                "input": f"{odd} {index}",
                "vars": {"input": odd, "nested": {"list": [1, 2.5, None, True, odd]}},
                "assert": [{"type": "contains", "value": odd, "weight": 2}],
                "threshold": 0.5 if index == 2 else None,
            }
        )
        for index in (2, 0, 3, 1)
    ]
    run_id = await running_run(sessions, len(cases))
    async with sessions.begin() as session:
        await RunRepository(session).add_cases(run_id, cases)
        await RunRepository(session).add_cases(run_id, cases[:2])  # delivered again
    async with sessions.begin() as session:
        chunk = await RunRepository(session).next_chunk(run_id, 0, len(cases))
    assert chunk is not None
    assert [case for _, case in chunk.executions] == sorted(cases, key=lambda c: c.index)
    async with sessions() as session:
        stored = await session.scalar(
            sa.select(sa.func.count()).select_from(run_cases).where(run_cases.c.run_id == run_id)
        )
    assert stored == len(cases)


async def test_a_batch_of_results_is_stored_as_given_and_counted_on_its_run(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The batch travels as one JSON document: text with quotes, backslashes, newlines and
    non-ASCII, missing values and scores JSON cannot spell come back as they went in."""
    run_id = await running_run(sessions, 3)
    odd = 'say "hi" \\ then\nnewline, café 猫 🙂'
    judged = Execution(run_id, case(0), 0, output=odd, latency_ms=12.5)
    judged.pass_, judged.score, judged.reason = True, math.nan, odd
    judged.assertions = [{"type": "contains", "pass": True, "score": None, "reason": odd}]
    judged.named_scores = {"tone": 0.25}
    errored = Execution(run_id, case(1), 0).failed_to_run("provider: 500")
    unbounded = Execution(run_id, case(2), 1, output=None, latency_ms=math.inf)
    unbounded.score = -math.inf
    async with sessions.begin() as session:
        recorded = await RunRepository(session).record(run_id, [judged, errored, unbounded])
        assert await RunRepository(session).record(run_id, [judged]) is None  # not new
    assert recorded is not None
    run, resumed = recorded
    assert (run.executed, run.executions_passed, run.executions_errored, resumed) == (
        3,
        1,
        1,
        False,
    )
    stored = await stored_results(sessions, run_id)
    first = stored[0]
    assert (first.output, first.reason, first.description, first.latency_ms) == (
        odd,
        odd,
        judged.case.description,
        12.5,
    )
    assert math.isnan(first.score)
    assert first.test_case_id == judged.case.test_case_id
    assert (first.assertions, first.named_scores) == (judged.assertions, {"tone": 0.25})
    assert (stored[1].error, stored[1].output, stored[1].latency_ms) == (
        "provider: 500",
        None,
        None,
    )
    assert (stored[2].repeat_index, stored[2].latency_ms, stored[2].score) == (
        1,
        math.inf,
        -math.inf,
    )


async def test_what_postgresql_cannot_hold_is_kept_with_a_replacement(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A model may write U+0000, which PostgreSQL's text and jsonb refuse: the result and the
    cached answer keep U+FFFD in its place (a refused batch would be delivered again, and for a
    model that keeps writing it, dead-lettered). A backslash and "u0000" is text, kept as it is."""
    run_id, key = await running_run(sessions, 2), f"nul-{uuid.uuid4()}"
    nul = Execution(run_id, case(0), 0, output="answer\x00 here", latency_ms=1.0)
    nul.pass_, nul.reason = True, "quoted: answer\x00 here"
    nul.assertions = [{"type": "contains", "pass": True, "score": 1.0, "reason": "a\x00b"}]
    nul.cache_entry = (key, "answer\x00 here", 3, 2, False)
    escaped = Execution(run_id, case(1), 0, output="a \\u0000 b", latency_ms=1.0)
    async with sessions.begin() as session:
        recorded = await RunRepository(session).record(run_id, [nul, escaped])
    assert recorded is not None
    assert recorded[0].executed == 2
    stored = await stored_results(sessions, run_id)
    assert (stored[0].output, stored[0].reason) == (
        "answer\ufffd here",
        "quoted: answer\ufffd here",
    )
    assert stored[0].assertions[0]["reason"] == "a\ufffdb"
    assert stored[1].output == "a \\u0000 b"
    async with sessions() as session:
        cached = await session.scalar(
            sa.select(response_cache.c.output).where(response_cache.c.key == key)
        )
    assert cached == "answer\ufffd here"
