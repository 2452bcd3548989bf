"""Handlers of the publisher's messages: a message in, explicit dependencies, messages out."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel

from contracts.privacy import EraseVersionsV1, VersionsErasedV1
from contracts.publishing import (
    AgentDeletedV1,
    ChannelHistoryV1,
    ChannelMove,
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    GetChannelHistoryV1,
    GetVersionV1,
    ImportAgentVersionsV1,
    ImportedMove,
    ListVersionsV1,
    MoveChannelV1,
    PublishedChannel,
    PublishedVersion,
    PublishRefusedV1,
    PublishVersionV1,
    VersionDetail,
    VersionPublishedV1,
    VersionsV1,
    VersionV1,
)
from contracts.runs import TestRunCompletedV1
from publisher import domain
from publisher.domain import RunOutcome, Version

log = structlog.get_logger()


class RunOutcomes(Protocol):
    """What the gate knows of test runs (`repository.RunOutcomeRepository`)."""

    async def add(self, event: TestRunCompletedV1) -> None: ...
    async def get(self, run_id: UUID) -> RunOutcome | None: ...
    async def erase(self, agent_ids: list[UUID]) -> int: ...


class Versions(Protocol):
    """An agent's versions, channels and moves (`repository.VersionRepository`)."""

    async def lock_agent(self, agent_id: UUID) -> None: ...
    async def published_by(self, publish_id: UUID) -> bool: ...
    async def get(self, agent_id: UUID, number: int) -> Version | None: ...
    async def has_versions(self, agent_id: UUID) -> bool: ...
    async def page(self, agent_id: UUID, before: int | None, limit: int) -> list[Version]: ...
    async def add(
        self, cmd: PublishVersionV1, *, forced: bool, overridden: str | None
    ) -> Version: ...
    async def import_version(self, agent_id: UUID, owner_id: UUID, v: VersionDetail) -> Version: ...
    async def move_channel(
        self,
        agent_id: UUID,
        name: str,
        to: int,
        moved_by: UUID,
        reason: str,
        *,
        forced: bool = False,
        test_run_id: UUID | None = None,
    ) -> ChannelMove: ...
    async def import_move(
        self, agent_id: UUID, owner_id: UUID, move: ImportedMove
    ) -> ChannelMove: ...
    async def channel_version(self, agent_id: UUID, name: str) -> int | None: ...
    async def history(
        self, agent_id: UUID, name: str | None, before: int | None, limit: int
    ) -> list[ChannelMove]: ...
    async def delete_agent(self, agent_id: UUID) -> tuple[list[int], list[str]]: ...
    async def agents_of_owner(self, owner_id: UUID) -> list[UUID]:
        """Also records the owner erased: their later messages write nothing."""


class ReadModel(Protocol):
    """The published read model serving reads (`adapters.read_model.PublishedBucket`)."""

    async def put_version(self, version: PublishedVersion) -> None: ...
    async def put_channel(self, agent_id: UUID, name: str, value: PublishedChannel) -> None:
        """Written only when `domain.replaces` the current value."""

    async def drop_agent(self, agent_id: UUID, numbers: list[int], names: list[str]) -> None: ...


async def handle_test_runner_event(event: BaseModel, *, outcomes: RunOutcomes) -> list[BaseModel]:
    """Consumes the test-runner's events; keeps `TestRunCompletedV1` outcomes for the gate.

    Idempotency key: the run id (stored once). Other events are ignored: a tolerant reader.
    """
    if isinstance(event, TestRunCompletedV1):
        await outcomes.add(event)
    return []


async def handle_publish_version(
    cmd: PublishVersionV1, *, versions: Versions, outcomes: RunOutcomes
) -> list[BaseModel]:
    """Consumes `PublishVersionV1`; emits `VersionPublishedV1` (and `ChannelMovedV1` when it names
    a channel) or `PublishRefusedV1` with the gate's reason.

    Idempotency key: `publish_id` (unique on the version; a refusal changes nothing).
    """
    await versions.lock_agent(cmd.agent_id)
    if await versions.published_by(cmd.publish_id):
        return []
    refusal = domain.gate(
        compilation_id=cmd.compilation_id,
        test_run_id=cmd.test_run_id,
        run=await outcomes.get(cmd.test_run_id) if cmd.test_run_id else None,
        min_pass_rate=cmd.min_pass_rate,
        production=await _production(cmd.agent_id, versions, outcomes),
    )
    if refusal is not None and not (cmd.force and cmd.reason):
        return [_refused(cmd, refusal)]
    version = await versions.add(
        cmd, forced=refusal is not None, overridden=refusal.reason if refusal else None
    )
    emitted: list[BaseModel] = [
        VersionPublishedV1(
            publish_id=cmd.publish_id, version=version.summary(), channel=cmd.channel
        )
    ]
    if cmd.channel is not None:
        notes = f": {cmd.notes}" if cmd.notes else ""
        reason = f"published version {version.number}{notes}"
        move = await versions.move_channel(
            cmd.agent_id, cmd.channel, version.number, cmd.published_by, reason
        )
        emitted.append(ChannelMovedV1(move_id=None, move=move))
    return emitted


def _refused(cmd: PublishVersionV1, refusal: domain.Refusal) -> PublishRefusedV1:
    return PublishRefusedV1(
        publish_id=cmd.publish_id,
        agent_id=cmd.agent_id,
        reason=refusal.reason,
        regressions=list(refusal.regressions),
    )


async def _production(
    agent_id: UUID, versions: Versions, outcomes: RunOutcomes
) -> tuple[int, RunOutcome | None] | None:
    """The version on `production` and the run it was judged by; None when nothing is there."""
    number = await versions.channel_version(agent_id, "production")
    if number is None:
        return None
    behind = await versions.get(agent_id, number)
    run_id = behind.test_run_id if behind is not None else None
    return number, await outcomes.get(run_id) if run_id is not None else None


async def handle_move_channel(
    cmd: MoveChannelV1, *, versions: Versions, outcomes: RunOutcomes
) -> list[BaseModel]:
    """Consumes `MoveChannelV1`; emits `ChannelMovedV1` or `ChannelMoveRefusedV1`.

    A move to an imported version, which no test run here stands behind, needs a run here that
    clears it (`domain.move_refusal`), recorded with the move, or `force` and a reason, recorded
    as forced.

    Idempotency key: the message (inbox): every accepted move is one history entry.
    """
    await versions.lock_agent(cmd.agent_id)
    version = await versions.get(cmd.agent_id, cmd.version)
    clearance = (
        None
        if cmd.test_run_id is None
        else domain.Clearance(
            test_run_id=cmd.test_run_id,
            run=await outcomes.get(cmd.test_run_id),
            compilation_id=cmd.run_compilation_id,
            instructions=cmd.run_instructions,
            min_pass_rate=cmd.min_pass_rate,
        )
    )
    refusal = domain.move_refusal(
        cmd.version, version, force=cmd.force, reason=cmd.reason, clearance=clearance
    )
    if refusal is not None:
        return [
            ChannelMoveRefusedV1(
                move_id=cmd.move_id, agent_id=cmd.agent_id, channel=cmd.channel, reason=refusal
            )
        ]
    assert version is not None  # no refusal: it exists
    move = await versions.move_channel(
        cmd.agent_id,
        cmd.channel,
        cmd.version,
        cmd.moved_by,
        cmd.reason,
        forced=version.imported is not None and clearance is None,
        test_run_id=cmd.test_run_id if version.imported is not None else None,
    )
    return [ChannelMovedV1(move_id=cmd.move_id, move=move)]


async def handle_import_agent_versions(
    cmd: ImportAgentVersionsV1, *, versions: Versions
) -> list[BaseModel]:
    """Consumes `ImportAgentVersionsV1`; emits `VersionPublishedV1` per version (naming the
    import). Versions keep their numbers and moves their place in the history, but the importer is
    their author and now their time; what the export claimed is kept apart (`imported`). Imported
    moves are history only: no channel serves an imported version until moved to it here, with
    `force` (`handle_move_channel`), so no `ChannelMovedV1` goes out for them.

    Idempotency key: the agent: an agent that already has versions is left as it is.
    """
    await versions.lock_agent(cmd.agent_id)
    if await versions.has_versions(cmd.agent_id):
        log.warning("publisher.import_skipped", agent_id=str(cmd.agent_id), reason="has versions")
        return []
    emitted: list[BaseModel] = []
    for detail in sorted(cmd.versions, key=lambda v: v.number):
        version = await versions.import_version(cmd.agent_id, cmd.owner_id, detail)
        emitted.append(
            VersionPublishedV1(
                publish_id=version.publish_id, version=version.summary(), import_id=cmd.import_id
            )
        )
    for move in cmd.moves:
        await versions.import_move(cmd.agent_id, cmd.owner_id, move)
    return emitted


async def handle_gateway_event(
    event: BaseModel, *, versions: Versions, read_model: ReadModel
) -> list[BaseModel]:
    """Consumes the gateway's events: on `AgentDeletedV1`, the agent's versions, channels and
    history are deleted and its keys leave the read model, so nothing of it is served any more.

    Idempotent: deleting what is already gone changes nothing.
    """
    if isinstance(event, AgentDeletedV1):
        await versions.lock_agent(event.agent_id)
        numbers, names = await versions.delete_agent(event.agent_id)
        await read_model.drop_agent(event.agent_id, numbers, names)
    return []


async def handle_erase_versions(
    cmd: EraseVersionsV1, *, versions: Versions, outcomes: RunOutcomes, read_model: ReadModel
) -> list[BaseModel]:
    """Consumes `EraseVersionsV1`; emits `VersionsErasedV1` for its part. The part's agents (and
    any the user owns a version of) lose their versions, channels and history, and leave the read
    model, so nothing of them is served any more; the gate forgets their runs.

    Idempotent: deleting what is already gone deletes nothing, and the event is sent again.
    """
    agents = set(cmd.agent_ids) | set(await versions.agents_of_owner(cmd.user_id))
    erased = {"versions": 0, "channels": 0}
    for agent_id in sorted(agents):
        await versions.lock_agent(agent_id)
        numbers, names = await versions.delete_agent(agent_id)
        await read_model.drop_agent(agent_id, numbers, names)
        erased["versions"] += len(numbers)
        erased["channels"] += len(names)
    erased["run_outcomes"] = await outcomes.erase(sorted(agents))
    return [
        VersionsErasedV1(erasure_id=cmd.erasure_id, part=cmd.part, parts=cmd.parts, erased=erased)
    ]


async def project(
    event: BaseModel, *, versions: Versions, read_model: ReadModel
) -> list[BaseModel]:
    """Consumes the publisher's own events; writes the published read model (key-value bucket).

    Idempotent: a version's value never changes, and a channel's value is replaced only by a
    later move (`seq`), so replays and reordering change nothing.
    """
    if isinstance(event, VersionPublishedV1) and event.version.imported is None:
        # An imported version is served only once a channel is moved to it (with force).
        await _put_version(versions, read_model, event.version.agent_id, event.version.number)
    elif isinstance(event, ChannelMovedV1):
        move = event.move
        # The version first, so a reader never finds a channel pointing at nothing; none when the
        # agent was deleted or erased since the move.
        if not await _put_version(versions, read_model, move.agent_id, move.to_version):
            return []
        await read_model.put_channel(
            move.agent_id, move.channel, PublishedChannel(version=move.to_version, seq=move.seq)
        )
    return []


async def _put_version(
    versions: Versions, read_model: ReadModel, agent_id: UUID, number: int
) -> bool:
    version = await versions.get(agent_id, number)
    if version is None:
        return False
    await read_model.put_version(version.published())
    return True


async def answer_list_versions(query: ListVersionsV1, *, versions: Versions) -> VersionsV1:
    found = await versions.page(query.agent_id, query.before, query.limit + 1)
    page = found[: query.limit]
    return VersionsV1(
        items=[v.summary() for v in page],
        next_before=page[-1].number if len(found) > query.limit else None,
    )


async def answer_get_version(query: GetVersionV1, *, versions: Versions) -> VersionV1:
    version = await versions.get(query.agent_id, query.number)
    return VersionV1(version=version.detail() if version is not None else None)


async def answer_channel_history(
    query: GetChannelHistoryV1, *, versions: Versions
) -> ChannelHistoryV1:
    found = await versions.history(query.agent_id, query.channel, query.before, query.limit + 1)
    page = found[: query.limit]
    return ChannelHistoryV1(
        items=page, next_before=page[-1].seq if len(found) > query.limit else None
    )
