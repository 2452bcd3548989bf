"""The only place with SQL for the compiler's tables."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from compiler.domain import Compiled
from compiler.models import compilations


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_succeeded(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        compiled: Compiled,
        version: str,
    ) -> bool:
        return await self._insert(
            id=compilation_id,
            agent_id=agent_id,
            spec_revision=spec_revision,
            spec_hash=compiled.spec_hash,
            compiler_version=version,
            status="succeeded",
            instructions=compiled.instructions,
            sections=[asdict(s) for s in compiled.sections],
        )

    async def add_failed(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        spec_hash: str,
        version: str,
        error: str,
    ) -> bool:
        return await self._insert(
            id=compilation_id,
            agent_id=agent_id,
            spec_revision=spec_revision,
            spec_hash=spec_hash,
            compiler_version=version,
            status="failed",
            error=error,
        )

    async def _insert(self, **values: Any) -> bool:
        """Store a compilation unless one with its id exists; True when this call stored it."""
        result = await self._session.execute(
            insert(compilations)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(compilations.c.id)
        )
        return result.first() is not None
