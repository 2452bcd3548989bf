"""An agent's specification: read, save (optimistic concurrency with ETag / If-Match), history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response

from gateway import schemas, specs
from gateway.deps import ReadTx, SettingsDep, Tx

router = APIRouter(prefix="/api/v1/agents/{agent_id}/spec", tags=["specs"])


# exclude_unset: blocks come back exactly as saved, without the fields nobody wrote.
@router.get("", response_model=schemas.SpecPublic, response_model_exclude_unset=True)
async def get_spec(agent_id: UUID, tx: ReadTx, response: Response) -> schemas.SpecPublic:
    spec = await specs.get_spec(tx.session, tx.user_id, agent_id)
    response.headers["ETag"] = specs.etag(spec.revision)
    return spec


@router.put(
    "",
    response_model=schemas.SpecPublic,
    response_model_exclude_unset=True,
    responses={412: {"model": schemas.ErrorPublic, "description": "saved by someone else since"}},
)
async def put_spec(
    agent_id: UUID,
    body: schemas.SpecUpdate,
    tx: Tx,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(description='The revision the edit started from, e.g. "3"; a stale one gets 412.'),
    ] = None,
) -> schemas.SpecPublic:
    spec = await specs.save_spec(
        tx.session,
        tx.user_id,
        agent_id,
        body.blocks,
        specs.parse_if_match(if_match),
        settings.max_spec_bytes,
    )
    response.headers["ETag"] = specs.etag(spec.revision)
    return spec


@router.get("/revisions", response_model=schemas.SpecRevisionsPublic)
async def list_revisions(
    agent_id: UUID,
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, description="Revisions older than this one.")] = None,
) -> schemas.SpecRevisionsPublic:
    return await specs.list_revisions(tx.session, tx.user_id, agent_id, limit, before)


@router.get(
    "/revisions/{revision}",
    response_model=schemas.SpecRevisionDetail,
    response_model_exclude_unset=True,
)
async def get_revision(agent_id: UUID, revision: int, tx: ReadTx) -> schemas.SpecRevisionDetail:
    return await specs.get_revision(tx.session, tx.user_id, agent_id, revision)
