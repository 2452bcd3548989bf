"""Version reads, answered by the publisher's queries, and the diff of two versions."""

from __future__ import annotations

import difflib
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Depends

from contracts.publishing import (
    ChannelHistoryV1,
    ChannelMove,
    GetChannelHistoryV1,
    GetVersionV1,
    ListVersionsV1,
    VersionSummary,
    VersionsV1,
    VersionV1,
)
from contracts.spec import Variable
from gateway.deps import CorrelationId, ReadTx, ServiceDep, SettingsDep
from gateway.errors import not_found
from gateway.pagination import BIGINT, INT, decode_cursor, encode_cursor
from gateway.publishing.schemas import (
    BlockChange,
    ChannelHistoryPublic,
    ChannelMovePublic,
    ModelSettingsPublic,
    SettingsChange,
    VersionDiffPublic,
    VersionPublic,
    VersionsPublic,
    VersionSummaryPublic,
)
from gateway.reads import QueryReads


class Versions(QueryReads):
    """Version reads, answered by the publisher's queries."""

    unavailable_code = "publisher_unavailable"
    reading = "read versions"

    async def list(self, agent_id: UUID, before: int | None, limit: int) -> VersionsV1:
        reply = await self._ask(ListVersionsV1(agent_id=agent_id, before=before, limit=limit))
        assert isinstance(reply, VersionsV1)
        return reply

    async def page(self, agent_id: UUID, cursor: str | None, limit: int) -> VersionsPublic:
        before = decode_cursor(cursor, INT)[0] if cursor is not None else None
        reply = await self.list(agent_id, before, limit)
        return VersionsPublic(
            items=[_summary(v) for v in reply.items], next_cursor=_next(reply.next_before)
        )

    async def one(self, agent_id: UUID, number: int) -> VersionPublic:
        reply = await self._ask(GetVersionV1(agent_id=agent_id, number=number))
        assert isinstance(reply, VersionV1)
        if reply.version is None:
            raise not_found("version", number)
        v = reply.version
        return VersionPublic(
            **_summary(v).model_dump(),
            spec=v.spec,
            instructions=v.instructions,
            variables=[Variable.model_validate(x.model_dump()) for x in v.variables],
            settings=ModelSettingsPublic(**v.settings.model_dump()),
        )

    async def moves(
        self, agent_id: UUID, channel: str | None, before: int | None, limit: int
    ) -> ChannelHistoryV1:
        reply = await self._ask(
            GetChannelHistoryV1(agent_id=agent_id, channel=channel, before=before, limit=limit)
        )
        assert isinstance(reply, ChannelHistoryV1)
        return reply

    async def history(
        self, agent_id: UUID, channel: str | None, cursor: str | None, limit: int
    ) -> ChannelHistoryPublic:
        before = decode_cursor(cursor, BIGINT)[0] if cursor is not None else None
        reply = await self.moves(agent_id, channel, before, limit)
        return ChannelHistoryPublic(
            items=[move_public(m) for m in reply.items], next_cursor=_next(reply.next_before)
        )


async def get_versions(
    service: ServiceDep, settings: SettingsDep, tx: ReadTx, correlation_id: CorrelationId
) -> Versions:
    return Versions(service.nc, settings, tx.user_id, correlation_id)


VersionsDep = Annotated[Versions, Depends(get_versions)]


def _summary(v: VersionSummary) -> VersionSummaryPublic:
    return VersionSummaryPublic.model_validate(v.model_dump(exclude={"agent_id"}))


def move_public(move: ChannelMove) -> ChannelMovePublic:
    return ChannelMovePublic.model_validate(move.model_dump(exclude={"agent_id"}))


def _next(before: int | None) -> str | None:
    return None if before is None else encode_cursor(before)


def diff_versions(a: VersionPublic, b: VersionPublic) -> VersionDiffPublic:
    """A unified diff of the instructions and, block by block, what changed in the spec."""
    instructions = "".join(
        difflib.unified_diff(
            a.instructions.splitlines(keepends=True),
            b.instructions.splitlines(keepends=True),
            fromfile=f"v{a.number}",
            tofile=f"v{b.number}",
        )
    )
    blocks = []
    for name in sorted(set(a.spec) | set(b.spec)):
        before, after = a.spec.get(name), b.spec.get(name)
        if before == after:
            continue
        change: Literal["added", "removed", "changed"] = (
            "added" if name not in a.spec else "removed" if name not in b.spec else "changed"
        )
        blocks.append(BlockChange(block=name, change=change, before=before, after=after))
    settings_changed = a.settings != b.settings
    return VersionDiffPublic(
        from_version=a.number,
        to_version=b.number,
        instructions=instructions,
        spec=blocks,
        settings=SettingsChange(before=a.settings, after=b.settings) if settings_changed else None,
    )
