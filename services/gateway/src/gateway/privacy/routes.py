"""`GET /api/v1/me/export`, `DELETE /api/v1/me` and the erasure's status."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.deps import (
    CorrelationId,
    CurrentUser,
    PublicRead,
    RelayDep,
    ServiceDep,
    SettingsDep,
    Tx,
)
from gateway.errors import ErrorPublic
from gateway.privacy import service
from gateway.privacy.export import CompilerCompilations, UserExport
from gateway.privacy.schemas import ErasureAccepted, ErasurePublic
from gateway.publishing.versions import Versions
from gateway.testing.results import RunResults

router = APIRouter(tags=["privacy"])
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorPublic,
        "description": "the compiler, test-runner or publisher is not answering",
    }
}

_status_token = HTTPBearer(
    auto_error=False, description="The erasure's status token, from the DELETE's 202."
)
StatusToken = Annotated[HTTPAuthorizationCredentials | None, Depends(_status_token)]


@router.get(
    "/api/v1/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}, **UNAVAILABLE},
)
async def export_me(
    user_id: CurrentUser,
    svc: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> StreamingResponse:
    """Everything the caller owns, from every service, as one JSON document to download: the
    account and its tokens (never their secrets), and per agent its spec and revisions, test
    cases, compilations (the gateway's views and the compiler's records), test runs with every
    result, publish requests, versions and channel history. Written as it is read, so its size is not limited by the gateway's memory."""
    reads = (svc.nc, settings, user_id, correlation_id)
    export = UserExport(
        svc.reader,
        user_id,
        compilations=CompilerCompilations(*reads),
        runs=RunResults(*reads),
        versions=Versions(*reads),
    )
    await export.check_services()
    return StreamingResponse(
        export.document(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="agent-studio-export.json"'},
    )


@router.delete("/api/v1/me", status_code=202, response_model=ErasureAccepted)
async def erase_me(
    tx: Tx, relay: RelayDep, correlation_id: CorrelationId, response: Response
) -> ErasureAccepted:
    """Erase the caller's account and everything of it in every service. The gateway's data and
    every API token go at once (the tokens stop working on every replica); each worker erases its
    own and reports back. Follow `status_url` with `Authorization: Bearer <status_token>`. The
    same request racing this one answers the same erasure (without a status token): one saga
    only; after it, the caller's tokens are gone and a repeat is a 401."""
    accepted = await service.erase_user(tx.session, tx.user_id, correlation_id)
    tx.after_commit(relay.nudge)
    response.headers["Location"] = accepted.status_url
    return accepted


@router.get(
    "/api/v1/erasures/{erasure_id}",
    response_model=ErasurePublic,
    responses={404: {"model": ErrorPublic, "description": "unknown erasure, or a wrong token"}},
)
async def erasure_status(
    erasure_id: UUID, session: PublicRead, credentials: StatusToken
) -> ErasurePublic:
    """An erasure's progress per service and `completed_at` once every service has erased its
    part, for the holder of its status token (the only credential left to the erased user)."""
    token = credentials.credentials if credentials is not None else None
    return await service.erasure_status(session, erasure_id, token)
