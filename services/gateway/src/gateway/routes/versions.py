"""Versions, channels and the published read: publishing is the publisher's, serving is here."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from contracts.publishing import CHANNEL_PATTERN
from contracts.spec import Variable
from gateway import publishing, schemas
from gateway.deps import (
    CorrelationId,
    CurrentUser,
    PublishedDep,
    Reader,
    ReadTx,
    RelayDep,
    ServiceDep,
    SettingsDep,
    Tx,
)
from gateway.errors import ApiError, not_found
from gateway.repository import AgentRepository

router = APIRouter(prefix="/api/v1/agents/{agent_id}", tags=["versions"])
Channel = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="e.g. production, staging")]
WAIT_SECONDS = 10.0
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": schemas.ErrorPublic, "description": "the publisher is not answering"}
}


@router.post("/versions", status_code=202, response_model=schemas.PublishRequestPublic)
async def publish(
    agent_id: UUID,
    body: schemas.VersionCreate,
    tx: Tx,
    relay: RelayDep,
    correlation_id: CorrelationId,
) -> schemas.PublishRequestPublic:
    """Ask for the next version; follow `GET …/publishes/{id}?wait=` for the outcome (the
    version's number, or the gate's reason for refusing)."""
    accepted = await publishing.request_publish(
        tx.session, tx.user_id, agent_id, body, correlation_id
    )
    tx.after_commit(relay.nudge)
    return accepted


@router.get("/publishes/{request_id}", response_model=schemas.PublishRequestPublic)
async def publish_request(
    agent_id: UUID,
    request_id: UUID,
    user: CurrentUser,
    reader: Reader,
    published: PublishedDep,
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to wait for the outcome.")] = 0,
) -> schemas.PublishRequestPublic:
    return await publishing.wait_for_request(reader, published, user, agent_id, request_id, wait)


@router.get("/versions", response_model=schemas.VersionsPublic, responses=UNAVAILABLE)
async def list_versions(
    agent_id: UUID,
    tx: ReadTx,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> schemas.VersionsPublic:
    """Newest first."""
    if await AgentRepository(tx.session).get(tx.user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    versions = publishing.Versions(service.nc, settings, tx.user_id, correlation_id)
    return await versions.page(agent_id, publishing.parse_number_cursor(cursor), limit)


@router.get("/versions/{number}", response_model=schemas.VersionPublic, responses=UNAVAILABLE)
async def get_version(
    agent_id: UUID,
    number: Annotated[int, Path(ge=1)],
    tx: ReadTx,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> schemas.VersionPublic:
    if await AgentRepository(tx.session).get(tx.user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    versions = publishing.Versions(service.nc, settings, tx.user_id, correlation_id)
    return await versions.one(agent_id, number)


@router.get(
    "/versions/{a}/diff/{b}", response_model=schemas.VersionDiffPublic, responses=UNAVAILABLE
)
async def diff_versions(
    agent_id: UUID,
    a: Annotated[int, Path(ge=1)],
    b: Annotated[int, Path(ge=1)],
    tx: ReadTx,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> schemas.VersionDiffPublic:
    """What changed from version `a` to version `b`: instructions as a unified diff, the spec
    block by block, and the model settings."""
    if await AgentRepository(tx.session).get(tx.user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    versions = publishing.Versions(service.nc, settings, tx.user_id, correlation_id)
    return publishing.diff_versions(
        await versions.one(agent_id, a), await versions.one(agent_id, b)
    )


@router.put(
    "/channels/{channel}",
    response_model=schemas.PublishRequestPublic,
    responses={202: {"model": schemas.PublishRequestPublic, "description": "still pending"}},
)
async def move_channel(
    agent_id: UUID,
    channel: Channel,
    body: schemas.ChannelMoveCreate,
    user: CurrentUser,
    db: Reader,
    service: ServiceDep,
    published: PublishedDep,
    correlation_id: CorrelationId,
) -> JSONResponse:
    """Point a channel at a version (promote or roll back). Answers once serving reads here see
    the move (200), when it is refused (409: no such version), or 202 if still pending after 10 s."""
    async with service.sessionmaker.begin() as session:
        move_id = await publishing.request_move(
            session, user, agent_id, channel, body, correlation_id
        )
    service.relay.nudge()
    outcome = await publishing.wait_for_request(
        db, published, user, agent_id, move_id, WAIT_SECONDS
    )
    status = {"done": 200, "refused": 409}.get(outcome.status, 202)
    return JSONResponse(outcome.model_dump(mode="json"), status_code=status)


@router.get(
    "/channels/{channel}/history",
    response_model=schemas.ChannelHistoryPublic,
    responses=UNAVAILABLE,
)
async def channel_history(
    agent_id: UUID,
    channel: Channel,
    tx: ReadTx,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> schemas.ChannelHistoryPublic:
    """Every move of the channel, newest first: who, when, from which version to which, and why."""
    if await AgentRepository(tx.session).get(tx.user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    versions = publishing.Versions(service.nc, settings, tx.user_id, correlation_id)
    return await versions.history(agent_id, channel, publishing.parse_number_cursor(cursor), limit)


@router.get("/published", response_model=schemas.PublishedPublic)
async def published_agent(
    agent_id: UUID,
    request: Request,
    user: CurrentUser,
    published: PublishedDep,
    channel: Annotated[str | None, Query(pattern=CHANNEL_PATTERN)] = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The published instructions and settings of a channel (default `production`) or a version,
    with an ETag; served from the read model (which knows each agent's owner), so it touches
    neither the database nor the publisher."""
    if channel is not None and version is not None:
        raise ApiError(422, "validation_error", "give channel or version, not both")
    found = published.resolve(agent_id, channel=channel, number=version)
    if found is None or found.owner_id != user:
        what = f"version {version}" if version is not None else f"channel {channel or 'production'}"
        raise ApiError(404, "not_published", f"agent {agent_id} has nothing published on {what}")
    etag = f'"{agent_id}.v{found.number}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    shown = None if version is not None else (channel or "production")

    def render() -> bytes:
        return (
            schemas.PublishedPublic(
                agent_id=agent_id,
                version=found.number,
                channel=shown,
                instructions=found.instructions,
                variables=[Variable.model_validate(v.model_dump()) for v in found.variables],
                settings=schemas.ModelSettingsPublic(**found.settings.model_dump()),
                published_at=found.published_at,
            )
            .model_dump_json()
            .encode()
        )

    return Response(
        published.body(found, shown, render),
        media_type="application/json",
        headers={"ETag": etag},
    )


@router.get("/export", response_model=schemas.AgentExport, responses=UNAVAILABLE)
async def export_agent(
    agent_id: UUID,
    tx: ReadTx,
    service: ServiceDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> schemas.AgentExport:
    """Every version (spec, instructions, settings), the channels' history and the test cases, as
    one document that `POST /api/v1/agents/import` turns back into an agent."""
    versions = publishing.Versions(service.nc, settings, tx.user_id, correlation_id)
    return await publishing.export_agent(tx.session, tx.user_id, agent_id, versions)


imports = APIRouter(prefix="/api/v1/agents", tags=["versions"])


@imports.post("/import", status_code=201, response_model=schemas.AgentPublic)
async def import_agent(
    body: schemas.AgentExport,
    tx: Tx,
    relay: RelayDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
) -> schemas.AgentPublic:
    """A new agent from an export; its versions and channels appear as the publisher takes them."""
    agent = await publishing.import_agent(
        tx.session, tx.user_id, body, correlation_id, settings.max_spec_bytes
    )
    tx.after_commit(relay.nudge)
    return agent
