"""The only place with SQL for the publisher's tables: `RunOutcomeRepository` (what the gate knows
of test runs) and `VersionRepository` (versions, channels and their history, per agent)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.publishing import (
    ChannelMove,
    ImportedChannelMove,
    ImportedMove,
    ImportedVersion,
    PublishVersionV1,
    VersionDetail,
)
from contracts.runs import TestRunCompletedV1
from publisher.domain import RunOutcome, Version
from publisher.models import channel_history, channels, erased_owners, run_outcomes, versions
from runtime.erasure import mark_erased


class RunOutcomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: TestRunCompletedV1) -> None:
        """Keep a completed run's outcome (once: a replay stores nothing)."""
        s = event.summary
        await self._session.execute(
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

    async def get(self, run_id: UUID) -> RunOutcome | None:
        o = run_outcomes
        row = (
            await self._session.execute(
                sa.select(
                    o.c.run_id,
                    o.c.compilation_id,
                    o.c.status,
                    o.c.pass_rate,
                    o.c.passed_cases,
                    o.c.failed_cases,
                ).where(o.c.run_id == run_id)
            )
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

    async def erase(self, agent_ids: list[UUID]) -> int:
        result = await self._session.execute(
            sa.delete(run_outcomes).where(run_outcomes.c.agent_id.in_(agent_ids))
        )
        return int(getattr(result, "rowcount", 0))


class VersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock_agent(self, agent_id: UUID) -> None:
        """Serialise an agent's publishes and moves until the transaction ends."""
        await self._session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(str(agent_id), 1)))
        )

    async def published_by(self, publish_id: UUID) -> bool:
        """Whether the publish with this id already made a version."""
        found = await self._session.scalar(
            sa.select(versions.c.number).where(versions.c.publish_id == publish_id)
        )
        return found is not None

    async def get(self, agent_id: UUID, number: int) -> Version | None:
        row = (
            await self._session.execute(
                sa.select(versions).where(
                    versions.c.agent_id == agent_id, versions.c.number == number
                )
            )
        ).first()
        return None if row is None else Version.model_validate(row._mapping)

    async def has_versions(self, agent_id: UUID) -> bool:
        found = await self._session.scalar(
            sa.select(versions.c.number).where(versions.c.agent_id == agent_id).limit(1)
        )
        return found is not None

    async def page(self, agent_id: UUID, before: int | None, limit: int) -> list[Version]:
        """The agent's versions, newest first, numbered below `before`."""
        query = sa.select(versions).where(versions.c.agent_id == agent_id)
        if before is not None:
            query = query.where(versions.c.number < before)
        rows = await self._session.execute(query.order_by(versions.c.number.desc()).limit(limit))
        return [Version.model_validate(row._mapping) for row in rows]

    async def add(self, cmd: PublishVersionV1, *, forced: bool, overridden: str | None) -> Version:
        """The agent's next number (the caller holds the agent's lock; the key forbids duplicates)."""
        number = (
            await self._session.scalar(
                sa.select(sa.func.coalesce(sa.func.max(versions.c.number), 0) + 1).where(
                    versions.c.agent_id == cmd.agent_id
                )
            )
        ) or 1
        return await self._insert(
            {
                "agent_id": cmd.agent_id,
                "number": number,
                "publish_id": cmd.publish_id,
                "owner_id": cmd.owner_id,
                "compilation_id": cmd.compilation_id,
                "test_run_id": cmd.test_run_id,
                "spec_revision": cmd.spec_revision,
                "spec": cmd.spec,
                "instructions": cmd.instructions,
                "variables": [v.model_dump(mode="json") for v in cmd.variables],
                "settings": cmd.settings.model_dump(mode="json"),
                "notes": cmd.notes,
                "forced": forced,
                "force_reason": cmd.reason if forced else None,
                "overridden": overridden,
                "published_by": cmd.published_by,
            }
        )

    async def import_version(self, agent_id: UUID, owner_id: UUID, v: VersionDetail) -> Version:
        """An exported version under its number, by the importer, now: what the export claimed
        (author, time, test run, override) is kept apart as `imported`, never as this
        installation's record. The run named belongs to another installation, so none is kept."""
        now = await self._now()
        claims = ImportedVersion(
            imported_by=owner_id,
            imported_at=now,
            claimed_published_by=v.published_by,
            claimed_published_at=v.published_at,
            claimed_test_run_id=v.test_run_id,
            claimed_forced=v.forced,
            claimed_force_reason=v.force_reason,
        )
        return await self._insert(
            {
                **v.model_dump(exclude={"variables", "settings", "imported"}),
                "agent_id": agent_id,
                "publish_id": uuid4(),
                "owner_id": owner_id,
                "variables": [x.model_dump(mode="json") for x in v.variables],
                "settings": v.settings.model_dump(mode="json"),
                "test_run_id": None,
                "forced": False,
                "force_reason": None,
                "overridden": None,
                "published_by": owner_id,
                "published_at": now,
                "imported": claims.model_dump(mode="json"),
            }
        )

    async def _now(self) -> datetime:
        """The transaction's time, as PostgreSQL stamps rows."""
        now = await self._session.scalar(sa.select(sa.func.now()))
        assert isinstance(now, datetime)
        return now

    async def _insert(self, values: dict[str, object]) -> Version:
        row = (
            await self._session.execute(sa.insert(versions).values(values).returning(*versions.c))
        ).one()
        return Version.model_validate(row._mapping)

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
    ) -> ChannelMove:
        """Append the move to the history and point the channel (the caller holds the agent's lock)."""
        entry = await self._append(
            {
                "agent_id": agent_id,
                "channel": name,
                "from_version": await self.channel_version(agent_id, name),
                "to_version": to,
                "moved_by": moved_by,
                "reason": reason,
                "forced": forced,
                "test_run_id": test_run_id,
            }
        )
        await self._session.execute(
            insert(channels)
            .values(
                agent_id=entry.agent_id, name=entry.channel, version=entry.to_version, seq=entry.seq
            )
            .on_conflict_do_update(
                index_elements=[channels.c.agent_id, channels.c.name],
                set_={"version": entry.to_version, "seq": entry.seq},
            )
        )
        return entry

    async def import_move(self, agent_id: UUID, owner_id: UUID, move: ImportedMove) -> ChannelMove:
        """An exported move, as history only (no channel here moves): by the importer, now, with
        what the export claimed kept apart as `imported`."""
        now = await self._now()
        claims = ImportedChannelMove(
            imported_by=owner_id,
            imported_at=now,
            claimed_moved_by=move.moved_by,
            claimed_moved_at=move.moved_at,
        )
        return await self._append(
            {
                "agent_id": agent_id,
                **move.model_dump(exclude={"moved_by", "moved_at"}),
                "moved_by": owner_id,
                "moved_at": now,
                "imported": claims.model_dump(mode="json"),
            }
        )

    async def _append(self, values: dict[str, object]) -> ChannelMove:
        return ChannelMove.model_validate(
            (
                await self._session.execute(
                    sa.insert(channel_history).values(values).returning(*channel_history.c)
                )
            )
            .one()
            ._mapping
        )

    async def channel_version(self, agent_id: UUID, name: str) -> int | None:
        """The version the channel points at, None when it was never set."""
        found: int | None = await self._session.scalar(
            sa.select(channels.c.version).where(
                channels.c.agent_id == agent_id, channels.c.name == name
            )
        )
        return found

    async def history(
        self, agent_id: UUID, name: str | None, before: int | None, limit: int
    ) -> list[ChannelMove]:
        """The agent's moves (of one channel, or all), newest first, with a `seq` below `before`."""
        h = channel_history
        query = sa.select(h).where(h.c.agent_id == agent_id)
        if name is not None:
            query = query.where(h.c.channel == name)
        if before is not None:
            query = query.where(h.c.seq < before)
        rows = await self._session.execute(query.order_by(h.c.seq.desc()).limit(limit))
        return [ChannelMove.model_validate(row._mapping) for row in rows]

    async def agents_of_owner(self, owner_id: UUID) -> list[UUID]:
        await mark_erased(self._session, erased_owners, owner_id)
        found = await self._session.scalars(
            sa.select(versions.c.agent_id).where(versions.c.owner_id == owner_id).distinct()
        )
        return list(found.all())

    async def delete_agent(self, agent_id: UUID) -> tuple[list[int], list[str]]:
        """Remove an agent's versions, channels and history; returns what the read model must drop."""
        numbers = await self._session.scalars(
            sa.delete(versions).where(versions.c.agent_id == agent_id).returning(versions.c.number)
        )
        deleted = list(numbers.all())
        names = await self._session.scalars(
            sa.delete(channels).where(channels.c.agent_id == agent_id).returning(channels.c.name)
        )
        dropped = list(names.all())
        await self._session.execute(
            sa.delete(channel_history).where(channel_history.c.agent_id == agent_id)
        )
        return deleted, dropped
