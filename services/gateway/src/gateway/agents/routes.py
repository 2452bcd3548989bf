"""Agents: create, list, read, update, delete."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from gateway.agents import service
from gateway.agents.schemas import AgentCreate, AgentPublic, AgentsPublic, AgentUpdate
from gateway.deps import CorrelationId, QuotasDep, ReadOwnedAgent, RelayDep, Tx
from gateway.direct_pool import DirectTx

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.post("", status_code=201, response_model=AgentPublic)
async def create_agent(body: AgentCreate, tx: Tx, quotas: QuotasDep) -> AgentPublic:
    return await service.create_agent(tx.session, tx.user_id, body, quotas)


@router.get("", response_model=AgentsPublic)
async def list_agents(
    tx: DirectTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Only agents whose name or description contains this."),
    ] = None,
) -> Response:
    """The caller's agents, newest first; `q` searches names and descriptions (case-insensitive);
    keep the same `q` when following `next_cursor`."""
    # Already `AgentsPublic`'s JSON: a Response is sent as it is, not validated and serialised again.
    async with tx.connection() as connection:
        page = await service.list_agents(connection, tx.user_id, limit, cursor, q)
    return Response(page, media_type="application/json")


@router.get("/{agent_id}", response_model=AgentPublic)
async def get_agent(agent: ReadOwnedAgent) -> AgentPublic:
    return service.agent_public(agent)


@router.patch("/{agent_id}", response_model=AgentPublic)
async def update_agent(agent_id: UUID, body: AgentUpdate, tx: Tx) -> AgentPublic:
    return await service.update_agent(tx.session, tx.user_id, agent_id, body)


@router.delete("/{agent_id}", status_code=204)
async def delete_agent(
    agent_id: UUID, tx: Tx, relay: RelayDep, correlation_id: CorrelationId
) -> Response:
    """Deletes the agent with its spec, cases and runs; its published versions stop being served."""
    await service.delete_agent(tx.session, tx.user_id, agent_id, correlation_id)
    tx.after_commit(relay.nudge)
    return Response(status_code=204)
