"""Test runs: requested here, carried out by the test-runner over NATS, read through its query."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from sse_starlette import EventSourceResponse

from gateway import schemas, test_runs
from gateway.deps import (
    CorrelationId,
    CurrentUser,
    Reader,
    ReadTx,
    RelayDep,
    ServiceDep,
    SettingsDep,
    Tx,
)
from gateway.repository import AgentRepository

router = APIRouter(prefix="/api/v1/agents/{agent_id}/test-runs", tags=["test runs"])
SSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}}}}
XML: dict[int | str, dict[str, Any]] = {200: {"content": {"application/xml": {}}}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": schemas.ErrorPublic, "description": "the test-runner is not answering"}
}


@router.post("", status_code=202, response_model=schemas.TestRunAccepted)
async def request_run(
    agent_id: UUID,
    body: schemas.TestRunCreate,
    tx: Tx,
    relay: RelayDep,
    correlation_id: CorrelationId,
) -> schemas.TestRunAccepted:
    accepted = await test_runs.request_run(tx.session, tx.user_id, agent_id, body, correlation_id)
    tx.after_commit(relay.nudge)
    return accepted


@router.get("", response_model=schemas.TestRunsPublic)
async def list_runs(
    agent_id: UUID,
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.TestRunsPublic:
    return await test_runs.list_runs(tx.session, tx.user_id, agent_id, limit, cursor)


@router.get("/{run_id}", response_model=schemas.TestRunPublic, responses=UNAVAILABLE)
async def get_run(
    agent_id: UUID,
    run_id: UUID,
    user: CurrentUser,
    reader: Reader,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
    limit: Annotated[int, Query(ge=0, le=1000, description="Results per page.")] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> schemas.TestRunPublic:
    async with reader() as session:
        view = await test_runs.owned_view(session, user, agent_id, run_id)
    runs = test_runs.TestRunReader(service.nc, settings, user, correlation_id)
    return await runs.public(view, cursor, limit)


@router.post("/{run_id}/cancel", status_code=202, response_model=schemas.TestRunAccepted)
async def cancel_run(
    agent_id: UUID, run_id: UUID, tx: Tx, relay: RelayDep, correlation_id: CorrelationId
) -> schemas.TestRunAccepted:
    accepted = await test_runs.cancel_run(tx.session, tx.user_id, agent_id, run_id, correlation_id)
    tx.after_commit(relay.nudge)
    return accepted


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses=SSE,
)
async def run_events(
    agent_id: UUID,
    run_id: UUID,
    user: CurrentUser,
    reader: Reader,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> EventSourceResponse:
    """Server-Sent Events: `snapshot`, then `progress` as results land, then `completed` or
    `cancelled`, after which the stream ends."""
    async with reader() as session:
        view = await test_runs.owned_view(session, user, agent_id, run_id)
    runs = test_runs.TestRunReader(service.nc, settings, user, correlation_id)

    async def events() -> AsyncIterator[dict[str, Any]]:
        async for event, data in runs.progress(view):
            yield {"event": event, "data": json.dumps(data, ensure_ascii=False)}

    return EventSourceResponse(events(), ping=15)


@router.get(
    "/{run_id}/junit",
    response_class=Response,
    responses={**XML, **UNAVAILABLE},
)
async def run_junit(
    agent_id: UUID,
    run_id: UUID,
    user: CurrentUser,
    reader: Reader,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> Response:
    """JUnit XML of the run's results so far, for CI systems."""
    async with reader() as session:
        view = await test_runs.owned_view(session, user, agent_id, run_id)
        agent = await AgentRepository(session).get(user, agent_id)
    runs = test_runs.TestRunReader(service.nc, settings, user, correlation_id)
    summary, results = await runs.all_results(run_id)
    xml = test_runs.junit_xml(agent.name if agent else str(agent_id), summary, view, results)
    return Response(xml, media_type="application/xml")
