"""Agent use cases. Each takes the request's session and user explicitly; the request's
transaction (deps.py) commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.publishing import AgentDeletedV1
from gateway.agents.repository import Agent, AgentRepository, list_page
from gateway.agents.schemas import AgentCreate, AgentPublic, AgentUpdate
from gateway.errors import agent_not_found
from gateway.messages import send
from gateway.pagination import cut, decode_cursor
from gateway.quotas.service import Quotas

# The rows are already the public fields, typed by the database: serialised as they are.
_AS_JSON: TypeAdapter[Any] = TypeAdapter(Any)


async def create_agent(
    session: AsyncSession, user_id: UUID, body: AgentCreate, quotas: Quotas
) -> AgentPublic:
    await quotas.admit_agent(session, user_id)
    row = await AgentRepository(session).add(
        user_id, body.name, body.description, body.min_pass_rate
    )
    return agent_public(row)


async def list_agents(
    connection: AsyncConnection[Any],
    user_id: UUID,
    limit: int,
    cursor: str | None,
    q: str | None = None,
) -> bytes:
    """The page as `AgentsPublic`'s JSON, serialised once from the rows as read."""
    after = decode_cursor(cursor, datetime, UUID) if cursor else None
    containing = q.strip() if q else None
    rows = await list_page(connection, user_id, limit + 1, after, containing or None)
    page, next_cursor = cut(rows, limit, lambda r: (r["created_at"], r["id"]))
    return _AS_JSON.dump_json({"items": page, "next_cursor": next_cursor})


def agent_public(agent: Agent) -> AgentPublic:
    return AgentPublic.model_validate(agent, from_attributes=True)


async def update_agent(
    session: AsyncSession, user_id: UUID, agent_id: UUID, body: AgentUpdate
) -> AgentPublic:
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    repo = AgentRepository(session)
    # One statement both checks the owner and updates.
    row = await (repo.update(user_id, agent_id, values) if values else repo.get(user_id, agent_id))
    if row is None:
        raise agent_not_found(agent_id)
    return agent_public(row)


async def delete_agent(
    session: AsyncSession, user_id: UUID, agent_id: UUID, correlation_id: UUID
) -> None:
    """Delete the agent with everything of it; the publisher stops serving it on the event."""
    if not await AgentRepository(session).delete(user_id, agent_id):
        raise agent_not_found(agent_id)
    await send(
        session, [AgentDeletedV1(agent_id=agent_id)], user_id=user_id, correlation_id=correlation_id
    )
