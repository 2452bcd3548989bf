"""SQL of the publisher's tables; every function runs in the session it is given."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import VariableDecl
from contracts.publishing import (
    ChannelMove,
    ImportedMove,
    ModelSettings,
    PublishedVersion,
    PublishVersionV1,
    VersionDetail,
    VersionSummary,
)
from contracts.runs import TestRunCompletedV1
from publisher.domain import RunOutcome
from publisher.models import channel_history, channels, run_outcomes, versions


async def lock_agent(session: AsyncSession, agent_id: UUID) -> None:
    """Serialise an agent's publishes and moves until the transaction ends."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(str(agent_id), 1)))
    )


async def save_run_outcome(session: AsyncSession, event: TestRunCompletedV1) -> None:
    s = event.summary
    await session.execute(
        insert(run_outcomes)
        .values(
            run_id=s.run_id,
            agent_id=s.agent_id,
            compilation_id=s.compilation_id,
            status=s.status,
            pass_rate=s.pass_rate,
            passed_cases=[str(c) for c in event.passed_cases],
            failed_cases=[str(c) for c in event.failed_cases],
            errored_cases=[str(c) for c in event.errored_cases],
        )
        .on_conflict_do_nothing()
    )


async def run_outcome(session: AsyncSession, run_id: UUID | None) -> RunOutcome | None:
    if run_id is None:
        return None
    row = (
        await session.execute(sa.select(run_outcomes).where(run_outcomes.c.run_id == run_id))
    ).first()
    if row is None:
        return None
    return RunOutcome(
        run_id=row.run_id,
        compilation_id=row.compilation_id,
        status=row.status,
        pass_rate=row.pass_rate,
        passed=frozenset(UUID(c) for c in row.passed_cases),
        failed=frozenset(UUID(c) for c in row.failed_cases),
    )


async def version_published_by(session: AsyncSession, publish_id: UUID) -> bool:
    found = await session.scalar(
        sa.select(versions.c.number).where(versions.c.publish_id == publish_id)
    )
    return found is not None


async def channel(session: AsyncSession, agent_id: UUID, name: str) -> Any:
    return (
        await session.execute(
            sa.select(channels).where(channels.c.agent_id == agent_id, channels.c.name == name)
        )
    ).first()


async def version_row(session: AsyncSession, agent_id: UUID, number: int) -> Any:
    return (
        await session.execute(
            sa.select(versions).where(versions.c.agent_id == agent_id, versions.c.number == number)
        )
    ).first()


async def add_version(
    session: AsyncSession, cmd: PublishVersionV1, *, forced: bool, overridden: str | None
) -> Any:
    """The agent's next number (the caller holds the agent's lock; the key forbids duplicates)."""
    number = (
        await session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(versions.c.number), 0) + 1).where(
                versions.c.agent_id == cmd.agent_id
            )
        )
    ) or 1
    return (
        await session.execute(
            sa.insert(versions)
            .values(
                agent_id=cmd.agent_id,
                number=number,
                publish_id=cmd.publish_id,
                owner_id=cmd.owner_id,
                compilation_id=cmd.compilation_id,
                test_run_id=cmd.test_run_id,
                spec_revision=cmd.spec_revision,
                spec=cmd.spec,
                instructions=cmd.instructions,
                variables=[v.model_dump(mode="json") for v in cmd.variables],
                settings=cmd.settings.model_dump(mode="json"),
                notes=cmd.notes,
                forced=forced,
                force_reason=cmd.reason if forced else None,
                overridden=overridden,
                published_by=cmd.published_by,
            )
            .returning(*versions.c)
        )
    ).one()


async def move_channel(
    session: AsyncSession, agent_id: UUID, name: str, to: int, moved_by: UUID, reason: str
) -> ChannelMove:
    """Append the move to the history and point the channel (the caller holds the agent's lock)."""
    current = await channel(session, agent_id, name)
    entry = (
        await session.execute(
            sa.insert(channel_history)
            .values(
                agent_id=agent_id,
                channel=name,
                from_version=current.version if current else None,
                to_version=to,
                moved_by=moved_by,
                reason=reason,
            )
            .returning(*channel_history.c)
        )
    ).one()
    await session.execute(
        insert(channels)
        .values(agent_id=agent_id, name=name, version=to, seq=entry.seq)
        .on_conflict_do_update(
            index_elements=[channels.c.agent_id, channels.c.name],
            set_={"version": to, "seq": entry.seq},
        )
    )
    return move_of(entry)


def move_of(row: Any) -> ChannelMove:
    return ChannelMove(
        seq=row.seq,
        agent_id=row.agent_id,
        channel=row.channel,
        from_version=row.from_version,
        to_version=row.to_version,
        moved_by=row.moved_by,
        reason=row.reason,
        moved_at=row.moved_at,
    )


def summary_of(row: Any) -> VersionSummary:
    return VersionSummary(
        agent_id=row.agent_id,
        number=row.number,
        compilation_id=row.compilation_id,
        test_run_id=row.test_run_id,
        spec_revision=row.spec_revision,
        notes=row.notes,
        forced=row.forced,
        force_reason=row.force_reason,
        overridden=row.overridden,
        published_by=row.published_by,
        published_at=row.published_at,
    )


def detail_of(row: Any) -> VersionDetail:
    return VersionDetail(
        **summary_of(row).model_dump(),
        spec=row.spec,
        instructions=row.instructions,
        variables=[VariableDecl.model_validate(v) for v in row.variables],
        settings=ModelSettings.model_validate(row.settings),
    )


def published_of(row: Any) -> PublishedVersion:
    return PublishedVersion(
        agent_id=row.agent_id,
        owner_id=row.owner_id,
        number=row.number,
        instructions=row.instructions,
        variables=[VariableDecl.model_validate(v) for v in row.variables],
        settings=ModelSettings.model_validate(row.settings),
        published_at=row.published_at,
    )


async def list_versions(
    session: AsyncSession, agent_id: UUID, before: int | None, limit: int
) -> list[Any]:
    query = sa.select(versions).where(versions.c.agent_id == agent_id)
    if before is not None:
        query = query.where(versions.c.number < before)
    return list(
        (await session.execute(query.order_by(versions.c.number.desc()).limit(limit))).all()
    )


async def history(
    session: AsyncSession, agent_id: UUID, name: str | None, before: int | None, limit: int
) -> list[Any]:
    h = channel_history
    query = sa.select(h).where(h.c.agent_id == agent_id)
    if name is not None:
        query = query.where(h.c.channel == name)
    if before is not None:
        query = query.where(h.c.seq < before)
    return list((await session.execute(query.order_by(h.c.seq.desc()).limit(limit))).all())


async def has_versions(session: AsyncSession, agent_id: UUID) -> bool:
    found = await session.scalar(
        sa.select(versions.c.number).where(versions.c.agent_id == agent_id).limit(1)
    )
    return found is not None


async def import_version(
    session: AsyncSession, agent_id: UUID, owner_id: UUID, v: VersionDetail
) -> Any:
    return (
        await session.execute(
            sa.insert(versions)
            .values(
                agent_id=agent_id,
                number=v.number,
                publish_id=uuid4(),
                owner_id=owner_id,
                compilation_id=v.compilation_id,
                test_run_id=v.test_run_id,
                spec_revision=v.spec_revision,
                spec=v.spec,
                instructions=v.instructions,
                variables=[x.model_dump(mode="json") for x in v.variables],
                settings=v.settings.model_dump(mode="json"),
                notes=v.notes,
                forced=v.forced,
                force_reason=v.force_reason,
                overridden=v.overridden,
                published_by=v.published_by,
                published_at=v.published_at,
            )
            .returning(*versions.c)
        )
    ).one()


async def import_move(session: AsyncSession, agent_id: UUID, move: ImportedMove) -> ChannelMove:
    entry = (
        await session.execute(
            sa.insert(channel_history)
            .values(
                agent_id=agent_id,
                channel=move.channel,
                from_version=move.from_version,
                to_version=move.to_version,
                moved_by=move.moved_by,
                reason=move.reason,
                moved_at=move.moved_at,
            )
            .returning(*channel_history.c)
        )
    ).one()
    await session.execute(
        insert(channels)
        .values(agent_id=agent_id, name=move.channel, version=move.to_version, seq=entry.seq)
        .on_conflict_do_update(
            index_elements=[channels.c.agent_id, channels.c.name],
            set_={"version": move.to_version, "seq": entry.seq},
        )
    )
    return move_of(entry)


async def delete_agent(session: AsyncSession, agent_id: UUID) -> tuple[list[int], list[str]]:
    """Remove an agent's versions, channels and history; returns what the read model must drop."""
    numbers = list(
        (
            await session.scalars(
                sa.delete(versions)
                .where(versions.c.agent_id == agent_id)
                .returning(versions.c.number)
            )
        ).all()
    )
    names = list(
        (
            await session.scalars(
                sa.delete(channels)
                .where(channels.c.agent_id == agent_id)
                .returning(channels.c.name)
            )
        ).all()
    )
    await session.execute(sa.delete(channel_history).where(channel_history.c.agent_id == agent_id))
    return numbers, names
