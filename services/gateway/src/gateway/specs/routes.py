"""An agent's specification: read, save (optimistic concurrency with ETag / If-Match), history;
the coach, which drafts one block; and compilations, carried out by the compiler over NATS."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse

from contracts.coach import BlockDraftedV1, CoachBlockV1
from contracts.storable import INT32_MAX
from gateway.deps import (
    CorrelationId,
    ReadTx,
    ServiceDep,
    SettingsDep,
    Tx,
)
from gateway.direct_pool import DirectTx
from gateway.errors import error_responses
from gateway.settings import SERVICE
from gateway.specs import service
from gateway.specs.schemas import (
    BlockDraftPublic,
    CoachRequest,
    CompilationAccepted,
    CompilationPublic,
    SpecPublic,
    SpecRevisionDetail,
    SpecRevisionsPublic,
    SpecUpdate,
)
from runtime.faults import failpoint
from runtime.queries import QueryFailed, ask

router = APIRouter(prefix="/api/v1/agents/{agent_id}/spec", tags=["specs"])
coach = APIRouter(prefix="/api/v1/agents/{agent_id}/spec/coach", tags=["specs"])
compilations = APIRouter(prefix="/api/v1/agents/{agent_id}/compilations", tags=["compilations"])

COACH_UNAVAILABLE = "coach unavailable, edit manually"


# exclude_unset: blocks come back exactly as saved, without the fields nobody wrote.
@router.get("", response_model=SpecPublic, response_model_exclude_unset=True)
async def get_spec(agent_id: UUID, tx: ReadTx, response: Response) -> SpecPublic:
    spec = await service.get_spec(tx.session, tx.user_id, agent_id)
    response.headers["ETag"] = service.etag(spec.revision)
    return spec


@router.put(
    "",
    response_model=SpecPublic,
    response_model_exclude_unset=True,
    responses=error_responses(412),
)
async def put_spec(
    agent_id: UUID,
    body: SpecUpdate,
    tx: Tx,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(description='The revision the edit started from, e.g. "3"; a stale one gets 412.'),
    ] = None,
) -> SpecPublic:
    spec = await service.save_spec(
        tx.session,
        tx.user_id,
        agent_id,
        body.blocks,
        service.parse_if_match(if_match),
        settings.max_spec_bytes,
    )
    response.headers["ETag"] = service.etag(spec.revision)
    return spec


@router.get("/revisions", response_model=SpecRevisionsPublic)
async def list_revisions(
    agent_id: UUID,
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        int | None, Query(ge=1, le=INT32_MAX, description="Revisions older than this one.")
    ] = None,
) -> SpecRevisionsPublic:
    return await service.list_revisions(tx.session, tx.user_id, agent_id, limit, before)


@router.get(
    "/revisions/{revision}",
    response_model=SpecRevisionDetail,
    response_model_exclude_unset=True,
)
async def get_revision(
    agent_id: UUID, revision: Annotated[int, Path(ge=1, le=INT32_MAX)], tx: ReadTx
) -> SpecRevisionDetail:
    return await service.get_revision(tx.session, tx.user_id, agent_id, revision)


@coach.post(
    "",
    response_model=BlockDraftPublic,
    responses=error_responses(503),
)
async def coach_block(
    agent_id: UUID,
    body: CoachRequest,
    tx: ReadTx,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> BlockDraftPublic | JSONResponse:
    spec = await service.get_spec(tx.session, tx.user_id, agent_id)
    await tx.release()  # no connection held while the coach drafts
    query = CoachBlockV1(
        agent_id=agent_id,
        block=body.block,
        guidance=body.guidance,
        blocks=spec.blocks.model_dump(mode="json", exclude_unset=True),
    )
    try:
        reply = await ask(
            svc.nc,
            query,
            root=settings.nats_subject_root,
            source=SERVICE,
            owner_id=tx.user_id,
            correlation_id=correlation_id,
            timeout=settings.coach_timeout_seconds,
        )
    except QueryFailed as exc:
        return _coach_unavailable(body.block, f"{COACH_UNAVAILABLE}: {exc}", None)
    assert isinstance(reply, BlockDraftedV1)
    if reply.status != "drafted":
        return _coach_unavailable(body.block, reply.message, reply.retry_after)
    return BlockDraftPublic(
        block=reply.block,
        draft=reply.draft,
        provider=reply.provider or "",
        offline=reply.offline,
        message=reply.message,
    )


def _coach_unavailable(block: str, message: str, retry_after: float | None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
    body: dict[str, Any] = {
        "error": {
            "code": "coach_unavailable",
            "message": message,
            "block": block,
            "retry_after": retry_after,
        }
    }
    return JSONResponse(body, status_code=503, headers=headers)


@compilations.post("", status_code=202, response_model=CompilationAccepted)
async def request_compilation(agent_id: UUID, tx: DirectTx) -> CompilationAccepted:
    async with tx.connection() as connection:
        accepted, command = await service.request_compilation(
            connection, tx.user_id, agent_id, tx.correlation_id
        )
    failpoint("gateway.compile_committed")
    tx.relay.publish_committed([command])  # committed: it goes out now, from memory
    return accepted


@compilations.get("/{compilation_id}", response_model=CompilationPublic)
async def get_compilation(
    agent_id: UUID,
    compilation_id: UUID,
    tx: DirectTx,
    wait: Annotated[
        float,
        Query(ge=0, le=30, description="Seconds to wait for a pending compilation to finish."),
    ] = 0,
) -> CompilationPublic:
    async def read() -> CompilationPublic:
        async with tx.connection() as connection:
            return await service.get_compilation(connection, tx.user_id, agent_id, compilation_id)

    return await tx.notifications.wait_for(
        compilation_id,
        read,
        lambda found: found.status != "pending",
        wait,
        from_row=service.completed_compilation,
    )
