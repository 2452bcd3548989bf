"""The gateway's use cases. Each takes the request's session and user explicitly; the request's
transaction (deps.py) commits."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import CompileAgentV1
from contracts.publishing import AgentDeletedV1
from contracts.registry import envelope_for
from gateway import schemas
from gateway.errors import ApiError, not_found
from gateway.models import metadata
from gateway.repository import AgentRepository, CompilationRepository, SpecRepository
from gateway.settings import SERVICE
from runtime import outbox

OUTBOX = metadata.tables["gateway.outbox"]


def encode_cursor(created_at: datetime, agent_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(agent_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        parsed = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (
            isinstance(parsed, list)
            and len(parsed) == 2
            and all(isinstance(p, str) for p in parsed)
        ):
            raise ValueError("not a cursor")
        return datetime.fromisoformat(parsed[0]), UUID(parsed[1])
    except (ValueError, TypeError) as exc:
        raise ApiError(422, "invalid_cursor", "cursor is not one this API returned") from exc


async def create_agent(
    session: AsyncSession, user_id: UUID, body: schemas.AgentCreate
) -> schemas.AgentPublic:
    row = await AgentRepository(session).add(
        user_id, body.name, body.description, body.min_pass_rate
    )
    return schemas.AgentPublic.model_validate(row._mapping)


async def list_agents(
    session: AsyncSession, user_id: UUID, limit: int, cursor: str | None
) -> schemas.AgentsPublic:
    after = decode_cursor(cursor) if cursor else None
    rows = await AgentRepository(session).list_page(user_id, limit + 1, after)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return schemas.AgentsPublic(
        items=[schemas.AgentPublic.model_validate(r._mapping) for r in page],
        next_cursor=next_cursor,
    )


async def get_agent(session: AsyncSession, user_id: UUID, agent_id: UUID) -> schemas.AgentPublic:
    row = await AgentRepository(session).get(user_id, agent_id)
    if row is None:
        raise not_found("agent", agent_id)
    return schemas.AgentPublic.model_validate(row._mapping)


async def update_agent(
    session: AsyncSession, user_id: UUID, agent_id: UUID, body: schemas.AgentUpdate
) -> schemas.AgentPublic:
    values = body.model_dump(exclude_unset=True, exclude_none=True)
    repo = AgentRepository(session)
    row = await (repo.update(user_id, agent_id, values) if values else repo.get(user_id, agent_id))
    if row is None:
        raise not_found("agent", agent_id)
    return schemas.AgentPublic.model_validate(row._mapping)


async def delete_agent(
    session: AsyncSession, user_id: UUID, agent_id: UUID, correlation_id: UUID
) -> None:
    """Delete the agent with everything of it; the publisher stops serving it on the event."""
    if not await AgentRepository(session).delete(user_id, agent_id):
        raise not_found("agent", agent_id)
    event = AgentDeletedV1(agent_id=agent_id)
    await outbox.add(
        session,
        OUTBOX,
        [envelope_for(event, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)],
    )


async def request_compilation(
    session: AsyncSession, user_id: UUID, agent_id: UUID, correlation_id: UUID
) -> schemas.CompilationAccepted:
    """Record a pending compilation and its compile command in one transaction (the outbox)."""
    spec = await SpecRepository(session).get(user_id, agent_id)
    if spec is None:
        raise not_found("agent", agent_id)
    compilation_id = uuid4()
    await CompilationRepository(session).add(compilation_id, agent_id, spec.revision)
    command = CompileAgentV1(
        compilation_id=compilation_id,
        agent_id=agent_id,
        spec_revision=spec.revision,
        blocks=spec.blocks,
    )
    await outbox.add(
        session,
        OUTBOX,
        [envelope_for(command, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)],
    )
    return schemas.CompilationAccepted(id=compilation_id, status="pending")


async def get_compilation(
    session: AsyncSession, user_id: UUID, agent_id: UUID, compilation_id: UUID
) -> schemas.CompilationPublic:
    row = await CompilationRepository(session).get(user_id, agent_id, compilation_id)
    if row is None:
        raise not_found("compilation", compilation_id)
    data = dict(row._mapping)
    data["sections"] = data["sections"] or []
    data["variables"] = data["variables"] or []
    return schemas.CompilationPublic.model_validate(data)
