"""The only place with SQL for the compiler's tables."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from compiler.domain import Outcome, Section
from compiler.models import compilations
from contracts.spec import Variable


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, outcome: Outcome) -> bool:
        values: dict[str, Any] = {
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
        result = await self._session.execute(
            insert(compilations)
            .values(values)
            .on_conflict_do_nothing()
            .returning(compilations.c.id)
        )
        return result.first() is not None

    async def find_reusable(self, spec_hash: str, compiler_version: str) -> Outcome | None:
        c = compilations
        row = (
            await self._session.execute(
                sa.select(c)
                .where(
                    c.c.spec_hash == spec_hash,
                    c.c.compiler_version == compiler_version,
                    c.c.status == "succeeded",
                )
                .order_by(c.c.created_at.desc())
                .limit(1)
            )
        ).one_or_none()
        if row is None:
            return None
        return Outcome(
            compilation_id=row.id,
            agent_id=row.agent_id,
            spec_revision=row.spec_revision,
            spec_hash=row.spec_hash,
            status="succeeded",
            compiler_version=row.compiler_version,
            instructions=row.instructions,
            sections=tuple(Section(**s) for s in row.sections or ()),
            variables=tuple(Variable.model_validate(v) for v in row.variables or ()),
            token_count=row.token_count,
            token_count_method=row.token_count_method,
        )
