"""Handlers of the publisher's messages: a message in, explicit dependencies, messages out."""

from __future__ import annotations

from typing import Protocol

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.publishing import (
    AgentDeletedV1,
    ChannelHistoryV1,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    GetChannelHistoryV1,
    GetVersionV1,
    ImportAgentVersionsV1,
    ListVersionsV1,
    MoveChannelV1,
    PublishedChannel,
    PublishRefusedV1,
    PublishVersionV1,
    VersionPublishedV1,
    VersionsV1,
    VersionV1,
    channel_key,
    version_key,
)
from contracts.runs import TestRunCompletedV1
from publisher import domain
from publisher import repository as repo

log = structlog.get_logger()


async def handle_test_runner_event(event: BaseModel, *, session: AsyncSession) -> list[BaseModel]:
    """Consumes the test-runner's events; keeps `TestRunCompletedV1` outcomes for the gate.

    Idempotency key: the run id (stored once). Other events are ignored: a tolerant reader.
    """
    if isinstance(event, TestRunCompletedV1):
        await repo.save_run_outcome(session, event)
    return []


async def handle_publish_version(
    cmd: PublishVersionV1, *, session: AsyncSession
) -> list[BaseModel]:
    """Consumes `PublishVersionV1`; emits `VersionPublishedV1` (and `ChannelMovedV1` when it names
    a channel) or `PublishRefusedV1` with the gate's reason.

    Idempotency key: `publish_id` (unique on the version; a refusal changes nothing).
    """
    await repo.lock_agent(session, cmd.agent_id)
    if await repo.version_published_by(session, cmd.publish_id):
        return []
    production = None
    in_production = await repo.channel(session, cmd.agent_id, "production")
    if in_production is not None:
        behind = await repo.version_row(session, cmd.agent_id, in_production.version)
        production = (
            in_production.version,
            await repo.run_outcome(session, behind.test_run_id if behind else None),
        )
    refusal = domain.gate(
        compilation_id=cmd.compilation_id,
        test_run_id=cmd.test_run_id,
        run=await repo.run_outcome(session, cmd.test_run_id),
        min_pass_rate=cmd.min_pass_rate,
        production=production,
    )
    if refusal is not None and not (cmd.force and cmd.reason):
        return [
            PublishRefusedV1(
                publish_id=cmd.publish_id,
                agent_id=cmd.agent_id,
                reason=refusal.reason,
                regressions=list(refusal.regressions),
            )
        ]
    row = await repo.add_version(
        session,
        cmd,
        forced=refusal is not None,
        overridden=refusal.reason if refusal is not None else None,
    )
    emitted: list[BaseModel] = [
        VersionPublishedV1(
            publish_id=cmd.publish_id, version=repo.summary_of(row), channel=cmd.channel
        )
    ]
    if cmd.channel is not None:
        move = await repo.move_channel(
            session,
            cmd.agent_id,
            cmd.channel,
            row.number,
            cmd.published_by,
            f"published version {row.number}" + (f": {cmd.notes}" if cmd.notes else ""),
        )
        emitted.append(ChannelMovedV1(move_id=None, move=move))
    return emitted


async def handle_move_channel(cmd: MoveChannelV1, *, session: AsyncSession) -> list[BaseModel]:
    """Consumes `MoveChannelV1`; emits `ChannelMovedV1` or `ChannelMoveRefusedV1`.

    Idempotency key: the message (inbox): every accepted move is one history entry.
    """
    await repo.lock_agent(session, cmd.agent_id)
    if await repo.version_row(session, cmd.agent_id, cmd.version) is None:
        return [
            ChannelMoveRefusedV1(
                move_id=cmd.move_id,
                agent_id=cmd.agent_id,
                channel=cmd.channel,
                reason=f"version {cmd.version} does not exist",
            )
        ]
    move = await repo.move_channel(
        session, cmd.agent_id, cmd.channel, cmd.version, cmd.moved_by, cmd.reason
    )
    return [ChannelMovedV1(move_id=cmd.move_id, move=move)]


async def handle_import_agent_versions(
    cmd: ImportAgentVersionsV1, *, session: AsyncSession
) -> list[BaseModel]:
    """Consumes `ImportAgentVersionsV1`; emits `VersionPublishedV1` per version and
    `ChannelMovedV1` per move, as they were exported (numbers, authors, times).

    Idempotency key: the agent: an agent that already has versions is left as it is.
    """
    await repo.lock_agent(session, cmd.agent_id)
    if await repo.has_versions(session, cmd.agent_id):
        log.warning("publisher.import_skipped", agent_id=str(cmd.agent_id), reason="has versions")
        return []
    emitted: list[BaseModel] = []
    for version in sorted(cmd.versions, key=lambda v: v.number):
        row = await repo.import_version(session, cmd.agent_id, cmd.owner_id, version)
        emitted.append(VersionPublishedV1(publish_id=row.publish_id, version=repo.summary_of(row)))
    for move in cmd.moves:
        entry = await repo.import_move(session, cmd.agent_id, move)
        emitted.append(ChannelMovedV1(move_id=None, move=entry))
    return emitted


async def handle_gateway_event(
    event: BaseModel, *, session: AsyncSession, kv: KeyValue
) -> list[BaseModel]:
    """Consumes the gateway's events: on `AgentDeletedV1`, the agent's versions, channels and
    history are deleted and its keys leave the read model, so nothing of it is served any more.

    Idempotent: deleting what is already gone changes nothing.
    """
    if isinstance(event, AgentDeletedV1):
        await repo.lock_agent(session, event.agent_id)
        numbers, names = await repo.delete_agent(session, event.agent_id)
        for name in names:
            await kv.delete(channel_key(event.agent_id, name))
        for number in numbers:
            await kv.delete(version_key(event.agent_id, number))
    return []


class KeyValue(Protocol):
    """The part of a NATS key-value bucket the read model uses."""

    async def get(self, key: str) -> object: ...
    async def put(self, key: str, value: bytes) -> int: ...
    async def create(self, key: str, value: bytes) -> int: ...
    async def update(self, key: str, value: bytes, last: int | None = None) -> int: ...
    async def delete(self, key: str) -> bool: ...


async def project(event: BaseModel, *, session: AsyncSession, kv: KeyValue) -> list[BaseModel]:
    """Consumes the publisher's own events; writes the published read model (key-value bucket).

    Idempotent: a version's value never changes, and a channel's value is replaced only by a
    later move (`seq`), so replays and reordering change nothing.
    """
    if isinstance(event, VersionPublishedV1):
        await _put_version(session, kv, event.version.agent_id, event.version.number)
    elif isinstance(event, ChannelMovedV1):
        move = event.move
        # The version first, so a reader never finds a channel pointing at nothing.
        await _put_version(session, kv, move.agent_id, move.to_version)
        await _put_channel(
            kv,
            channel_key(move.agent_id, move.channel),
            PublishedChannel(version=move.to_version, seq=move.seq),
        )
    return []


async def _put_version(session: AsyncSession, kv: KeyValue, agent_id: object, number: int) -> None:
    row = await repo.version_row(session, agent_id, number)  # type: ignore[arg-type]
    if row is not None:
        await kv.put(
            version_key(row.agent_id, number), repo.published_of(row).model_dump_json().encode()
        )


async def _put_channel(kv: KeyValue, key: str, value: PublishedChannel) -> None:
    data = value.model_dump_json().encode()
    while True:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            try:
                await kv.create(key, data)
                return
            except KeyWrongLastSequenceError:
                continue  # written meanwhile: compare with it
        current = PublishedChannel.model_validate_json(entry.value)  # type: ignore[attr-defined]
        if current.seq >= value.seq:
            return
        try:
            await kv.update(key, data, last=entry.revision)  # type: ignore[attr-defined]
            return
        except KeyWrongLastSequenceError:
            continue


async def answer_list_versions(query: ListVersionsV1, *, session: AsyncSession) -> VersionsV1:
    rows = await repo.list_versions(session, query.agent_id, query.before, query.limit + 1)
    page = rows[: query.limit]
    return VersionsV1(
        items=[repo.summary_of(r) for r in page],
        next_before=page[-1].number if len(rows) > query.limit else None,
    )


async def answer_get_version(query: GetVersionV1, *, session: AsyncSession) -> VersionV1:
    row = await repo.version_row(session, query.agent_id, query.number)
    return VersionV1(version=repo.detail_of(row) if row is not None else None)


async def answer_channel_history(
    query: GetChannelHistoryV1, *, session: AsyncSession
) -> ChannelHistoryV1:
    rows = await repo.history(session, query.agent_id, query.channel, query.before, query.limit + 1)
    page = rows[: query.limit]
    return ChannelHistoryV1(
        items=[repo.move_of(r) for r in page],
        next_before=page[-1].seq if len(rows) > query.limit else None,
    )
