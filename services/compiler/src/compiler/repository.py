"""The only place with SQL for the compiler's tables."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compiler.domain import Compiled
from compiler.models import compilations


class CompilationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, compilation_id: UUID) -> bool:
        found = await self._session.scalar(
            sa.select(sa.literal(1)).where(compilations.c.id == compilation_id)
        )
        return found is not None

    async def add_succeeded(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        compiled: Compiled,
        version: str,
    ) -> None:
        await self._insert(
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
    ) -> None:
        await self._insert(
            id=compilation_id,
            agent_id=agent_id,
            spec_revision=spec_revision,
            spec_hash=spec_hash,
            compiler_version=version,
            status="failed",
            error=error,
        )

    async def _insert(self, **values: Any) -> None:
        await self._session.execute(sa.insert(compilations).values(**values))
