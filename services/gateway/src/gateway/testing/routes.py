"""An agent's test cases (CRUD, import of a promptfoo suite) and its test runs: requested here,
carried out by the test-runner over NATS, read through its query."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response
from sse_starlette import EventSourceResponse

from contracts.testing import TestCaseSpec
from gateway.audit.repository import AuditRepository
from gateway.deps import (
    ClientDep,
    CorrelationId,
    OwnedAgent,
    QuotasDep,
    ReadOwnedAgent,
    ReadTx,
    RelayDep,
    ServiceDep,
    SettingsDep,
    Tx,
)
from gateway.errors import error_responses
from gateway.publishing.versions import Versions
from gateway.testing import comparison, events, junit, runs, service
from gateway.testing.repository import TestRunView
from gateway.testing.results import RunResults
from gateway.testing.schemas import (
    ImportReport,
    TestCasePublic,
    TestCasesPublic,
    TestRunAccepted,
    TestRunComparisonPublic,
    TestRunCreate,
    TestRunPublic,
    TestRunsPublic,
)

cases = APIRouter(prefix="/api/v1/agents/{agent_id}/test-cases", tags=["test cases"])
router = APIRouter(prefix="/api/v1/agents/{agent_id}/test-runs", tags=["test runs"])
SSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}}}}
XML: dict[int | str, dict[str, Any]] = {200: {"content": {"application/xml": {}}}}
UNAVAILABLE = error_responses(503)  # the test-runner is not answering
CONFLICT = error_responses(409)


@cases.post("", status_code=201, response_model=TestCasePublic)
async def create_case(
    agent_id: UUID, body: TestCaseSpec, tx: Tx, _agent: OwnedAgent, quotas: QuotasDep
) -> TestCasePublic:
    return await service.create(tx.session, agent_id, body, quotas)


@cases.get("", response_model=TestCasesPublic)
async def list_cases(
    agent_id: UUID,
    tx: ReadTx,
    _agent: ReadOwnedAgent,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TestCasesPublic:
    return await service.list_cases(tx.session, agent_id, limit, cursor)


@cases.post("/import", response_model=ImportReport)
async def import_suite(
    agent_id: UUID,
    tx: Tx,
    _agent: OwnedAgent,
    client: ClientDep,
    quotas: QuotasDep,
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
) -> ImportReport:
    report = await service.import_promptfoo(tx.session, agent_id, body, input_var, quotas)
    await AuditRepository(tx.session).append(
        tx.user_id,
        "test_cases_imported",
        client,
        agent_id=str(agent_id),
        imported=report.imported,
        skipped=report.skipped,
    )
    return report


@cases.get("/{case_id}", response_model=TestCasePublic)
async def get_case(
    agent_id: UUID, case_id: UUID, tx: ReadTx, _agent: ReadOwnedAgent
) -> TestCasePublic:
    return await service.get(tx.session, agent_id, case_id)


@cases.put("/{case_id}", response_model=TestCasePublic)
async def replace_case(
    agent_id: UUID, case_id: UUID, body: TestCaseSpec, tx: Tx, _agent: OwnedAgent
) -> TestCasePublic:
    return await service.replace(tx.session, agent_id, case_id, body)


@cases.delete("/{case_id}", status_code=204)
async def delete_case(agent_id: UUID, case_id: UUID, tx: Tx, _agent: OwnedAgent) -> Response:
    await service.delete(tx.session, agent_id, case_id)
    return Response(status_code=204)


@router.post("", status_code=202, response_model=TestRunAccepted, responses=CONFLICT)
async def request_run(
    agent_id: UUID,
    body: TestRunCreate,
    tx: Tx,
    _agent: OwnedAgent,
    relay: RelayDep,
    quotas: QuotasDep,
    correlation_id: CorrelationId,
) -> TestRunAccepted:
    accepted = await runs.request_run(
        tx.session, tx.user_id, agent_id, body, correlation_id, quotas
    )
    tx.after_commit(relay.nudge)
    return accepted


@router.get("", response_model=TestRunsPublic)
async def list_runs(
    agent_id: UUID,
    tx: ReadTx,
    _agent: ReadOwnedAgent,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TestRunsPublic:
    return await runs.list_runs(tx.session, agent_id, limit, cursor)


@router.get("/{run_id}", response_model=TestRunPublic, responses=UNAVAILABLE)
async def get_run(
    agent_id: UUID,
    run_id: UUID,
    tx: ReadTx,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
    limit: Annotated[int, Query(ge=0, le=1000, description="Results per page.")] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> TestRunPublic:
    view = await runs.owned_view(tx.session, tx.user_id, agent_id, run_id)
    await tx.release()  # no connection held while the test-runner answers
    results = RunResults(svc.nc, settings, tx.user_id, correlation_id)
    return await results.public(view, cursor, limit)


@router.post(
    "/{run_id}/cancel", status_code=202, response_model=TestRunAccepted, responses=CONFLICT
)
async def cancel_run(
    agent_id: UUID, run_id: UUID, tx: Tx, relay: RelayDep, correlation_id: CorrelationId
) -> TestRunAccepted:
    accepted = await runs.cancel_run(tx.session, tx.user_id, agent_id, run_id, correlation_id)
    tx.after_commit(relay.nudge)
    return accepted


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={**SSE, **UNAVAILABLE},
)
async def run_events(
    agent_id: UUID,
    run_id: UUID,
    tx: ReadTx,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> EventSourceResponse:
    """Server-Sent Events: `snapshot`, then `progress` as results land, then `completed`,
    `cancelled` or `failed`, after which the stream ends."""
    view = await runs.owned_view(tx.session, tx.user_id, agent_id, run_id)
    await tx.release()
    results = RunResults(svc.nc, settings, tx.user_id, correlation_id)

    async def reread() -> TestRunView:
        # The stream outlives the request's session: each read takes a connection of its own.
        async with svc.reader() as session:
            return await runs.owned_view(session, tx.user_id, agent_id, run_id)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        async for event, data in events.progress(results, view, reread):
            yield {"event": event, "data": json.dumps(data, ensure_ascii=False)}

    return EventSourceResponse(stream(), ping=15)


@router.get(
    "/{run_id}/junit",
    response_class=Response,
    responses={**XML, **UNAVAILABLE},
)
async def run_junit(
    agent_id: UUID,
    run_id: UUID,
    tx: ReadTx,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> Response:
    """JUnit XML of the run's results so far, for CI systems."""
    view, agent_name = await runs.owned_view_and_agent_name(
        tx.session, tx.user_id, agent_id, run_id
    )
    await tx.release()
    results = RunResults(svc.nc, settings, tx.user_id, correlation_id)
    summary, found = await results.all_results(run_id)
    return Response(junit.junit_xml(agent_name, summary, view, found), media_type="application/xml")


@router.get("/{run_id}/comparison", response_model=TestRunComparisonPublic, responses=UNAVAILABLE)
async def compare_with_production(
    agent_id: UUID,
    run_id: UUID,
    tx: ReadTx,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> TestRunComparisonPublic:
    """This run beside the run behind the version on production: the cases that regressed
    (passed there, fail now; what the publish gate refuses), were fixed, or kept their verdict."""
    await runs.owned_view(tx.session, tx.user_id, agent_id, run_id)
    await tx.release()
    results = RunResults(svc.nc, settings, tx.user_id, correlation_id)
    versions = Versions(svc.nc, settings, tx.user_id, correlation_id)
    return await comparison.with_production(results, versions, agent_id, run_id)
