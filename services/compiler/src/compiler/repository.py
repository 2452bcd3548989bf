"""The only place with SQL for the compiler's tables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from compiler.domain import Outcome
from compiler.models import compilations, erased_owners
from contracts.compiler import StoredCompilation
from runtime import db
from runtime.db import DirectUnit
from runtime.erasure import mark_erased


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def erase(self, user_id: UUID, agent_ids: list[UUID]) -> dict[str, int]:
        await mark_erased(self._session, erased_owners, user_id)
        result = await self._session.execute(
            sa.delete(compilations).where(compilations.c.agent_id.in_(agent_ids))
        )
        return {"compilations": int(getattr(result, "rowcount", 0))}

    async def page(self, agent_id: UUID, after: UUID | None, limit: int) -> list[StoredCompilation]:
        c = compilations
        query = sa.select(c, c.c.id.label("compilation_id")).where(c.c.agent_id == agent_id)
        if after is not None:
            query = query.where(c.c.id > after)
        rows = await self._session.execute(query.order_by(c.c.id).limit(limit))
        return [
            StoredCompilation.model_validate(
                {**row._mapping, "sections": row.sections or [], "variables": row.variables or []}
            )
            for row in rows
        ]


class CompileCommands:
    """What a compile command reads and writes (`handlers.CompileStore`), on the compiler's hot
    path: the direct group commit's psycopg connection in pipeline mode (`runtime.staged`)."""

    def __init__(self, unit: DirectUnit) -> None:
        self._connection = unit.connection
        # The reusable compilation of each spec hash this group has looked up or added.
        self._reusable: dict[tuple[str, str], Outcome | db.Pending | None] = unit.info.setdefault(
            "compiler.reusable", {}
        )

    async def ask_reusable(self, keys: Iterable[tuple[str, str]]) -> None:
        """Send the reuse lookups of a group's commands (spec hash, compiler version) without
        reading them: the group's read ahead (`runtime.staged.ReadAhead`)."""
        for key in keys:
            if key not in self._reusable:
                self._reusable[key] = await db.send(self._connection, _REUSABLE, _lookup(key))

    async def add(self, outcome: Outcome) -> bool:
        if await db.fetch_one(self._connection, _ADD, _values(outcome)) is None:
            return False
        if outcome.status == "succeeded":  # the group's next identical spec reuses it
            self._reusable[(outcome.spec_hash, outcome.compiler_version)] = outcome
        return True

    async def find_reusable(self, spec_hash: str, compiler_version: str) -> Outcome | None:
        key = (spec_hash, compiler_version)
        found = self._reusable.get(key)
        if found is None and key not in self._reusable:
            found = await db.send(self._connection, _REUSABLE, _lookup(key))
        if isinstance(found, db.Pending):
            row = await found.row()
            found = self._reusable[key] = None if row is None else Outcome.model_validate(row)
        return found


def _lookup(key: tuple[str, str]) -> dict[str, str]:
    spec_hash, compiler_version = key
    return {"spec_hash": spec_hash, "compiler_version": compiler_version}


def _values(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": outcome.compilation_id,
        "agent_id": outcome.agent_id,
        "spec_revision": outcome.spec_revision,
        "spec_hash": outcome.spec_hash,
        "compiler_version": outcome.compiler_version,
        "status": outcome.status,
        "instructions": outcome.instructions,
        "sections": [asdict(s) for s in outcome.sections],
        "variables": [v.model_dump(mode="json") for v in outcome.variables],
        "token_count": outcome.token_count,
        "token_count_method": outcome.token_count_method,
        "error": outcome.error,
        "reused_from": outcome.reused_from,
    }


# The statements run for every compile command, built once (and compiled to psycopg's SQL once).
_c = compilations.c
_ADD = (
    insert(compilations)
    # Every column but its creation time, each a parameter (`_values`): one missing is an error.
    .values({c.name: sa.bindparam(c.name, type_=c.type) for c in _c if c.name != "created_at"})
    .on_conflict_do_nothing()
    .returning(compilations.c.id)
)
_REUSABLE = (
    # What a reuse carries over, named as `Outcome` reads it (not the stored error or
    # reused_from: `Outcome.reused_for` sets its own).
    sa.select(
        _c.id.label("compilation_id"),
        _c.agent_id,
        _c.spec_revision,
        _c.spec_hash,
        _c.status,
        _c.compiler_version,
        _c.instructions,
        _c.sections,
        _c.variables,
        _c.token_count,
        _c.token_count_method,
    )
    .where(
        _c.spec_hash == sa.bindparam("spec_hash"),
        _c.compiler_version == sa.bindparam("compiler_version"),
        _c.status == "succeeded",
    )
    .order_by(_c.created_at.desc())
    .limit(1)
)
