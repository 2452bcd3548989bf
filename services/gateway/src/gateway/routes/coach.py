"""The spec coach: drafts one block for the person to accept or edit; it never saves anything."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from contracts.coach import BlockDraftedV1, CoachBlockV1
from gateway import schemas, specs
from gateway.deps import CorrelationId, CurrentUser, Reader, ServiceDep, SettingsDep
from gateway.settings import SERVICE
from runtime.queries import QueryFailed, ask

router = APIRouter(prefix="/api/v1/agents/{agent_id}/spec/coach", tags=["specs"])

UNAVAILABLE = "coach unavailable, edit manually"


@router.post(
    "",
    response_model=schemas.BlockDraftPublic,
    responses={503: {"model": schemas.ErrorPublic, "description": "the coach cannot draft now"}},
)
async def coach_block(
    agent_id: UUID,
    body: schemas.CoachRequest,
    user: CurrentUser,
    reader: Reader,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> schemas.BlockDraftPublic | JSONResponse:
    # Read the spec, then let go of the connection before waiting on the coach.
    async with reader() as session:
        spec = await specs.get_spec(session, user, agent_id)
    query = CoachBlockV1(
        agent_id=agent_id,
        block=body.block,
        guidance=body.guidance,
        blocks=spec.blocks.model_dump(mode="json", exclude_unset=True),
    )
    try:
        reply = await ask(
            service.nc,
            query,
            root=settings.nats_subject_root,
            source=SERVICE,
            owner_id=user,
            correlation_id=correlation_id,
            timeout=settings.coach_timeout_seconds,
        )
    except QueryFailed as exc:
        return _unavailable(body.block, f"{UNAVAILABLE}: {exc}", None)
    assert isinstance(reply, BlockDraftedV1)
    if reply.status != "drafted":
        return _unavailable(body.block, reply.message, reply.retry_after)
    return schemas.BlockDraftPublic(
        block=reply.block,
        draft=reply.draft,
        provider=reply.provider or "",
        offline=reply.offline,
        message=reply.message,
    )


def _unavailable(block: str, message: str, retry_after: float | None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
    return JSONResponse(
        {
            "error": {
                "code": "coach_unavailable",
                "message": message,
                "block": block,
                "retry_after": retry_after,
            }
        },
        status_code=503,
        headers=headers,
    )
