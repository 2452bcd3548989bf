"""Test-run use cases: a run is requested here (its snapshot sent through the outbox), carried out
by the test-runner and read back through its query (docs/decisions/0006, `results.py`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import VariableDecl
from contracts.runs import (
    CASES_PER_CHUNK,
    RUN_CASES_MAX,
    AddRunCasesV1,
    CancelTestRunV1,
    RunCase,
    StartTestRunV1,
)
from gateway.agents.repository import AgentRepository
from gateway.errors import ApiError, not_found
from gateway.messages import send
from gateway.pagination import cut, decode_cursor
from gateway.quotas.service import Quotas
from gateway.specs.repository import CompilationRepository
from gateway.testing.repository import TestCaseRepository, TestRunRepository, TestRunView
from gateway.testing.results import FINISHED, summary_from_view
from gateway.testing.schemas import TestRunAccepted, TestRunCreate, TestRunsPublic

CHUNK_BYTES = 512 * 1024  # a chunk's cases, well under NATS's 1 MB message limit
CASE_BYTES_MAX = 900 * 1024


async def request_run(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    body: TestRunCreate,
    correlation_id: UUID,
    quotas: Quotas,
) -> TestRunAccepted:
    """Record the run's view and its snapshot commands in one transaction (the outbox)."""
    compilation = await CompilationRepository(session).get(user_id, agent_id, body.compilation_id)
    if compilation is None:
        raise not_found("compilation", body.compilation_id)
    if compilation.status != "succeeded":
        raise ApiError(
            409,
            "compilation_not_succeeded",
            f"compilation {body.compilation_id} is {compilation.status}; "
            "a run needs a succeeded compilation",
        )
    rows = await TestCaseRepository(session).all_for_run(agent_id, RUN_CASES_MAX + 1)
    if not rows:
        raise ApiError(422, "no_test_cases", f"agent {agent_id} has no test cases to run")
    if len(rows) > RUN_CASES_MAX:
        raise ApiError(
            422, "too_many_test_cases", f"a run takes at most {RUN_CASES_MAX} test cases"
        )
    await quotas.admit_run(session, user_id, len(rows) * body.repeat)
    cases = [
        RunCase.model_validate(
            {
                "index": i,
                "test_case_id": row.id,
                "description": row.description,
                "input": row.input,
                "vars": row.vars,
                "assert": row.assertions,
                "threshold": row.threshold,
            }
        )
        for i, row in enumerate(rows)
    ]
    run_id = uuid4()
    await TestRunRepository(session).add(
        id=run_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        total=len(cases),
        repeat=body.repeat,
        model=body.model,
        temperature=body.temperature,
        cache=body.cache,
    )
    assert compilation.instructions is not None  # a succeeded compilation has its instructions
    start = StartTestRunV1(
        run_id=run_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        instructions=compilation.instructions,
        variables=[VariableDecl.model_validate(v) for v in compilation.variables or []],
        model=body.model,
        temperature=body.temperature,
        repeat=body.repeat,
        cache=body.cache,
        total_cases=len(cases),
    )
    commands: list[BaseModel] = [AddRunCasesV1(run_id=run_id, cases=c) for c in _chunks(cases)]
    await send(session, [*commands, start], user_id=user_id, correlation_id=correlation_id)
    return TestRunAccepted(id=run_id, status="queued")


def _chunks(cases: list[RunCase]) -> list[list[RunCase]]:
    """Consecutive cases, at most CASES_PER_CHUNK and about CHUNK_BYTES per chunk."""
    chunks: list[list[RunCase]] = [[]]
    size = 0
    for case in cases:
        case_size = len(case.model_dump_json(by_alias=True))
        if case_size > CASE_BYTES_MAX:
            label = case.description or str(case.test_case_id)
            raise ApiError(
                422,
                "test_case_too_large",
                f"test case {label} is too large to run ({case_size} bytes)",
            )
        if chunks[-1] and (len(chunks[-1]) >= CASES_PER_CHUNK or size + case_size > CHUNK_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(case)
        size += case_size
    return chunks


async def cancel_run(
    session: AsyncSession, user_id: UUID, agent_id: UUID, run_id: UUID, correlation_id: UUID
) -> TestRunAccepted:
    view = await TestRunRepository(session).get(user_id, agent_id, run_id)
    if view is None:
        raise not_found("test run", run_id)
    if view.status in FINISHED:
        raise ApiError(409, "test_run_finished", f"test run {run_id} is already {view.status}")
    command = CancelTestRunV1(run_id=run_id, reason="cancelled by its owner")
    await send(session, [command], user_id=user_id, correlation_id=correlation_id)
    return TestRunAccepted(id=run_id, status="cancelling")


async def list_runs(
    session: AsyncSession, agent_id: UUID, limit: int, cursor: str | None
) -> TestRunsPublic:
    before = decode_cursor(cursor, datetime, UUID) if cursor else None
    rows = await TestRunRepository(session).list_page(agent_id, limit + 1, before)
    page, next_cursor = cut(rows, limit, lambda r: (r.created_at, r.id))
    return TestRunsPublic(items=[summary_from_view(r) for r in page], next_cursor=next_cursor)


async def owned_view(
    session: AsyncSession, user_id: UUID, agent_id: UUID, run_id: UUID
) -> TestRunView:
    view = await TestRunRepository(session).get(user_id, agent_id, run_id)
    if view is None:
        raise not_found("test run", run_id)
    return view


async def owned_view_and_agent_name(
    session: AsyncSession, user_id: UUID, agent_id: UUID, run_id: UUID
) -> tuple[TestRunView, str]:
    view = await owned_view(session, user_id, agent_id, run_id)
    agent = await AgentRepository(session).get(user_id, agent_id)
    return view, agent.name if agent else str(agent_id)
