"""An agent's test cases: CRUD, and import of a promptfoo suite."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response

from contracts.testing import TestCaseSpec
from gateway import schemas, testcases
from gateway.deps import ReadTx, Tx

router = APIRouter(prefix="/api/v1/agents/{agent_id}/test-cases", tags=["test cases"])


@router.post("", status_code=201, response_model=schemas.TestCasePublic)
async def create_case(agent_id: UUID, body: TestCaseSpec, tx: Tx) -> schemas.TestCasePublic:
    return await testcases.create(tx.session, tx.user_id, agent_id, body)


@router.get("", response_model=schemas.TestCasesPublic)
async def list_cases(
    agent_id: UUID,
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.TestCasesPublic:
    return await testcases.list_cases(tx.session, tx.user_id, agent_id, limit, cursor)


@router.post("/import", response_model=schemas.ImportReport)
async def import_suite(
    agent_id: UUID,
    tx: Tx,
    body: Annotated[
        str,
        Body(
            media_type="application/yaml",
            description="A promptfoo config with a `tests:` list, or the list itself, as YAML.",
        ),
    ],
    input_var: Annotated[
        str, Query(max_length=64, description="The var that holds each test's user message.")
    ] = "input",
) -> schemas.ImportReport:
    return await testcases.import_promptfoo(tx.session, tx.user_id, agent_id, body, input_var)


@router.get("/{case_id}", response_model=schemas.TestCasePublic)
async def get_case(agent_id: UUID, case_id: UUID, tx: ReadTx) -> schemas.TestCasePublic:
    return await testcases.get(tx.session, tx.user_id, agent_id, case_id)


@router.put("/{case_id}", response_model=schemas.TestCasePublic)
async def replace_case(
    agent_id: UUID, case_id: UUID, body: TestCaseSpec, tx: Tx
) -> schemas.TestCasePublic:
    return await testcases.replace(tx.session, tx.user_id, agent_id, case_id, body)


@router.delete("/{case_id}", status_code=204)
async def delete_case(agent_id: UUID, case_id: UUID, tx: Tx) -> Response:
    await testcases.delete(tx.session, tx.user_id, agent_id, case_id)
    return Response(status_code=204)
