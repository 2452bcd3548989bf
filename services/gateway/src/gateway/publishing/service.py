"""Publishing use cases: versions and channel moves are asked of the publisher through the outbox,
and waited for until serving reads here (the read model) see their outcome."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import VariableDecl
from contracts.publishing import ModelSettings, MoveChannelV1, PublishVersionV1
from gateway.agents.repository import Agent
from gateway.deps import Reading, Transaction
from gateway.errors import ApiError, not_found
from gateway.messages import send
from gateway.notifications import Notifications
from gateway.publishing.read_model import PublishedCache
from gateway.publishing.repository import PublishRepository, PublishRequest
from gateway.publishing.schemas import ChannelMoveCreate, PublishRequestPublic, VersionCreate
from gateway.specs.repository import CompilationRepository
from gateway.testing.repository import TestRunRepository


async def request_publish(
    session: AsyncSession,
    user_id: UUID,
    agent: Agent,
    body: VersionCreate,
    correlation_id: UUID,
) -> PublishRequestPublic:
    """Check what the gateway knows, then ask the publisher (which applies the test gate)."""
    agent_id = agent.id
    if body.force and not body.reason:
        raise ApiError(422, "reason_required", "reason: a forced publish needs a written reason")
    compilation = await CompilationRepository(session).get(user_id, agent_id, body.compilation_id)
    if compilation is None:
        raise not_found("compilation", body.compilation_id)
    if compilation.status != "succeeded":
        raise ApiError(
            409,
            "compilation_not_succeeded",
            f"compilation {body.compilation_id} is {compilation.status}; only a succeeded "
            "compilation can be published",
        )
    settings = ModelSettings()
    if body.test_run_id is not None:
        run = await TestRunRepository(session).get(user_id, agent_id, body.test_run_id)
        if run is None:
            raise not_found("test run", body.test_run_id)
        settings = ModelSettings(model=run.model, temperature=run.temperature)
    requests = PublishRepository(session)
    publish_id = uuid4()
    view = await requests.add(
        id=publish_id, agent_id=agent_id, kind="publish", channel=body.channel
    )
    assert compilation.instructions is not None  # a succeeded compilation has its instructions
    command = PublishVersionV1(
        publish_id=publish_id,
        agent_id=agent_id,
        compilation_id=body.compilation_id,
        test_run_id=body.test_run_id,
        spec_revision=compilation.spec_revision,
        spec=await requests.spec_blocks(agent_id, compilation.spec_revision),
        instructions=compilation.instructions,
        variables=[VariableDecl.model_validate(v) for v in compilation.variables or []],
        settings=settings,
        notes=body.notes,
        channel=body.channel,
        force=body.force,
        reason=body.reason,
        min_pass_rate=agent.min_pass_rate,
        published_by=user_id,
        owner_id=user_id,
    )
    await send(session, [command], user_id=user_id, correlation_id=correlation_id)
    return request_public(view)


async def request_move(
    session: AsyncSession,
    user_id: UUID,
    agent: Agent,
    channel: str,
    body: ChannelMoveCreate,
    correlation_id: UUID,
) -> UUID:
    """Ask the publisher to move the channel; a run offered to clear an imported version goes
    with what it tested (its compilation's instructions), for the publisher to compare."""
    agent_id = agent.id
    if body.force and not body.reason.strip():
        raise ApiError(422, "reason_required", "reason: a forced move needs a written reason")
    run_instructions: str | None = None
    run_compilation_id: UUID | None = None
    if body.test_run_id is not None:
        run = await TestRunRepository(session).get(user_id, agent_id, body.test_run_id)
        if run is None:
            raise not_found("test run", body.test_run_id)
        compilation = await CompilationRepository(session).get(
            user_id, agent_id, run.compilation_id
        )
        run_compilation_id = run.compilation_id
        run_instructions = compilation.instructions if compilation is not None else None
    move_id = uuid4()
    await PublishRepository(session).add(
        id=move_id, agent_id=agent_id, kind="move", channel=channel, version=body.version
    )
    command = MoveChannelV1(
        move_id=move_id,
        agent_id=agent_id,
        channel=channel,
        version=body.version,
        moved_by=user_id,
        reason=body.reason,
        force=body.force,
        test_run_id=body.test_run_id,
        run_compilation_id=run_compilation_id,
        run_instructions=run_instructions,
        min_pass_rate=agent.min_pass_rate,
    )
    await send(session, [command], user_id=user_id, correlation_id=correlation_id)
    return move_id


async def wait_for_request(
    tx: Reading | Transaction,
    notifications: Notifications,
    cache: PublishedCache,
    agent_id: UUID,
    request_id: UUID,
    timeout: float,
) -> PublishRequestPublic:
    """The request once it is done and visible to serving reads here, or as it stands at
    `timeout`. The outcome's notice wakes the wait (`PublishRepository.complete`); the read model's
    watch then brings what serving reads see. A move counts as visible when the read model shows
    it (or a later one)."""
    deadline = asyncio.get_running_loop().time() + timeout

    async def read() -> PublishRequest:
        view = await PublishRepository(tx.session).get(tx.user_id, agent_id, request_id)
        await tx.release()
        if view is None:
            raise not_found("publish request", request_id)
        return view

    view = await notifications.wait_for(
        request_id,
        read,
        lambda v: v.status != "pending",
        timeout,
        from_row=PublishRequest.model_validate,  # the outcome's notice carries the request
    )
    while view.status == "done" and not _visible(cache, view):
        changed = cache.changed()
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            break
        with suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=remaining)
    return request_public(view)


def _visible(cache: PublishedCache, view: PublishRequest) -> bool:
    """Whether serving reads here see the request's outcome: the new version (and the channel it
    named pointing at it, or at a later one), or the move."""
    pointer = cache.channel(view.agent_id, view.channel) if view.channel else None
    if view.kind == "import":
        return True  # imported versions are served only once moved onto a channel here
    if view.kind == "publish":
        if view.version is None or cache.version(view.agent_id, view.version) is None:
            return False
        return view.channel is None or (pointer is not None and pointer.version >= view.version)
    return pointer is not None and pointer.seq >= (view.seq or 0)


def request_public(view: PublishRequest) -> PublishRequestPublic:
    return PublishRequestPublic(
        id=view.id,
        kind=view.kind,
        status=view.status,
        version=view.version,
        channel=view.channel,
        reason=view.reason,
        regressions=[UUID(c) for c in view.regressions or []],
        created_at=view.created_at,
        completed_at=view.completed_at,
    )
