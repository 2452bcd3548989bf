"""Agents and their specifications."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from gateway import schemas, services
from gateway.deps import CurrentUser, Db, SettingsDep

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.post("", status_code=201, response_model=schemas.AgentPublic)
async def create_agent(body: schemas.AgentCreate, user: CurrentUser, db: Db) -> schemas.AgentPublic:
    async with db.begin() as session:
        return await services.create_agent(session, user, body)


@router.get("", response_model=schemas.AgentsPublic)
async def list_agents(
    user: CurrentUser,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.AgentsPublic:
    async with db.begin() as session:
        return await services.list_agents(session, user, limit, cursor)


@router.get("/{agent_id}", response_model=schemas.AgentPublic)
async def get_agent(agent_id: UUID, user: CurrentUser, db: Db) -> schemas.AgentPublic:
    async with db.begin() as session:
        return await services.get_agent(session, user, agent_id)


@router.patch("/{agent_id}", response_model=schemas.AgentPublic)
async def update_agent(
    agent_id: UUID, body: schemas.AgentUpdate, user: CurrentUser, db: Db
) -> schemas.AgentPublic:
    async with db.begin() as session:
        return await services.update_agent(session, user, agent_id, body)


@router.delete("/{agent_id}", status_code=204)
async def delete_agent(agent_id: UUID, user: CurrentUser, db: Db) -> Response:
    async with db.begin() as session:
        await services.delete_agent(session, user, agent_id)
    return Response(status_code=204)


@router.get("/{agent_id}/spec", response_model=schemas.SpecPublic)
async def get_spec(agent_id: UUID, user: CurrentUser, db: Db) -> schemas.SpecPublic:
    async with db.begin() as session:
        return await services.get_spec(session, user, agent_id)


@router.put("/{agent_id}/spec", response_model=schemas.SpecPublic)
async def put_spec(
    agent_id: UUID, body: schemas.SpecUpdate, user: CurrentUser, db: Db, settings: SettingsDep
) -> schemas.SpecPublic:
    async with db.begin() as session:
        return await services.put_spec(
            session, user, agent_id, body.blocks, settings.max_spec_bytes
        )
