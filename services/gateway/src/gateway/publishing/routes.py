"""Versions, channels, the published read and an agent's export/import: publishing is the
publisher's, serving is here (from the read model)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from contracts.publishing import CHANNEL_PATTERN
from contracts.spec import Variable
from gateway.audit.repository import AuditRepository
from gateway.deps import (
    ClientDep,
    CorrelationId,
    CurrentUser,
    NotificationsDep,
    OwnedAgent,
    PublishedDep,
    ReadOwnedAgent,
    ReadTx,
    RelayDep,
    SettingsDep,
    Tx,
)
from gateway.errors import ApiError, ErrorPublic
from gateway.publishing import export, service
from gateway.publishing.schemas import (
    AgentExport,
    AgentImported,
    ChannelHistoryPublic,
    ChannelMoveCreate,
    ModelSettingsPublic,
    PublishedPublic,
    PublishRequestPublic,
    VersionCreate,
    VersionDiffPublic,
    VersionPublic,
    VersionsPublic,
)
from gateway.publishing.versions import VersionsDep
from gateway.publishing.versions import diff_versions as diff_of

router = APIRouter(prefix="/api/v1/agents/{agent_id}", tags=["versions"])
Channel = Annotated[str, Path(pattern=CHANNEL_PATTERN, description="e.g. production, staging")]
WAIT_SECONDS = 10.0
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorPublic, "description": "the publisher is not answering"}
}


@router.post("/versions", status_code=202, response_model=PublishRequestPublic)
async def publish(
    body: VersionCreate,
    tx: Tx,
    agent: OwnedAgent,
    relay: RelayDep,
    correlation_id: CorrelationId,
    client: ClientDep,
) -> PublishRequestPublic:
    """Ask for the next version; follow `GET …/publishes/{id}?wait=` for the outcome (the
    version's number, or the gate's reason for refusing)."""
    accepted = await service.request_publish(tx.session, tx.user_id, agent, body, correlation_id)
    if body.force:  # passing over the test gate is on the record
        await AuditRepository(tx.session).append(
            tx.user_id,
            "publish_forced",
            client,
            agent_id=str(agent.id),
            publish_id=str(accepted.id),
            reason=body.reason,
        )
    tx.after_commit(relay.nudge)
    return accepted


@router.get("/publishes/{request_id}", response_model=PublishRequestPublic)
async def publish_request(
    agent_id: UUID,
    request_id: UUID,
    tx: ReadTx,
    notifications: NotificationsDep,
    published: PublishedDep,
    wait: Annotated[float, Query(ge=0, le=30, description="Seconds to wait for the outcome.")] = 0,
) -> PublishRequestPublic:
    return await service.wait_for_request(tx, notifications, published, agent_id, request_id, wait)


@router.get("/versions", response_model=VersionsPublic, responses=UNAVAILABLE)
async def list_versions(
    agent_id: UUID,
    _agent: ReadOwnedAgent,
    versions: VersionsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> VersionsPublic:
    """Newest first."""
    return await versions.page(agent_id, cursor, limit)


@router.get("/versions/{number}", response_model=VersionPublic, responses=UNAVAILABLE)
async def get_version(
    agent_id: UUID,
    number: Annotated[int, Path(ge=1)],
    _agent: ReadOwnedAgent,
    versions: VersionsDep,
) -> VersionPublic:
    return await versions.one(agent_id, number)


@router.get("/versions/{a}/diff/{b}", response_model=VersionDiffPublic, responses=UNAVAILABLE)
async def diff_versions(
    agent_id: UUID,
    a: Annotated[int, Path(ge=1)],
    b: Annotated[int, Path(ge=1)],
    _agent: ReadOwnedAgent,
    versions: VersionsDep,
) -> VersionDiffPublic:
    """What changed from version `a` to version `b`: instructions as a unified diff, the spec
    block by block, and the model settings."""
    return diff_of(await versions.one(agent_id, a), await versions.one(agent_id, b))


@router.put(
    "/channels/{channel}",
    response_model=PublishRequestPublic,
    responses={
        202: {"model": PublishRequestPublic, "description": "still pending"},
        409: {
            "model": PublishRequestPublic,
            "description": "refused (see `reason`), or failed: the publisher could never apply it",
        },
    },
)
async def move_channel(
    agent_id: UUID,
    channel: Channel,
    body: ChannelMoveCreate,
    tx: Tx,
    agent: OwnedAgent,
    relay: RelayDep,
    notifications: NotificationsDep,
    published: PublishedDep,
    correlation_id: CorrelationId,
    client: ClientDep,
) -> JSONResponse:
    """Point a channel at a version (promote or roll back). Answers once serving reads here see
    the move (200), when it is refused (409: no such version; an imported version without a run
    here that clears it or `force` with a reason), or 202 if still pending after 10 s."""
    move_id = await service.request_move(
        tx.session, tx.user_id, agent, channel, body, correlation_id
    )
    if body.force:  # serving an imported version no run here stands behind is on the record
        await AuditRepository(tx.session).append(
            tx.user_id,
            "channel_move_forced",
            client,
            agent_id=str(agent_id),
            move_id=str(move_id),
            channel=channel,
            version=body.version,
            reason=body.reason,
        )
    tx.after_commit(relay.nudge)
    await tx.release()  # committed (and sent) before waiting for the publisher's answer
    outcome = await service.wait_for_request(
        tx, notifications, published, agent_id, move_id, WAIT_SECONDS
    )
    status = {"done": 200, "refused": 409, "failed": 409}.get(outcome.status, 202)
    return JSONResponse(outcome.model_dump(mode="json"), status_code=status)


@router.get(
    "/channels/{channel}/history",
    response_model=ChannelHistoryPublic,
    responses=UNAVAILABLE,
)
async def channel_history(
    agent_id: UUID,
    channel: Channel,
    _agent: ReadOwnedAgent,
    versions: VersionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> ChannelHistoryPublic:
    """Every move of the channel, newest first: who, when, from which version to which, and why."""
    return await versions.history(agent_id, channel, cursor, limit)


@router.get("/published", response_model=PublishedPublic)
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
            PublishedPublic(
                agent_id=agent_id,
                version=found.number,
                channel=shown,
                instructions=found.instructions,
                variables=[Variable.model_validate(v.model_dump()) for v in found.variables],
                settings=ModelSettingsPublic(**found.settings.model_dump()),
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


@router.get("/export", response_model=AgentExport, responses=UNAVAILABLE)
async def export_agent(tx: ReadTx, agent: ReadOwnedAgent, versions: VersionsDep) -> AgentExport:
    """Every version (spec, instructions, settings), the channels' history and the test cases, as
    one document that `POST /api/v1/agents/import` turns back into an agent."""
    return await export.export_agent(tx.session, tx.user_id, agent, versions)


imports = APIRouter(prefix="/api/v1/agents", tags=["versions"])


@imports.post("/import", status_code=201, response_model=AgentImported)
async def import_agent(
    body: AgentExport,
    tx: Tx,
    relay: RelayDep,
    settings: SettingsDep,
    correlation_id: CorrelationId,
    client: ClientDep,
) -> AgentImported:
    """A new agent from an export; its versions and channels appear as the publisher takes them
    (`versions_import`, a request to follow like a publish)."""
    agent = await export.import_agent(
        tx.session, tx.user_id, body, correlation_id, settings.max_spec_bytes
    )
    await AuditRepository(tx.session).append(
        tx.user_id, "agent_imported", client, agent_id=str(agent.id), versions=len(body.versions)
    )
    tx.after_commit(relay.nudge)
    return agent
