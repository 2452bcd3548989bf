"""The compiler's entrypoint: binds its consumer to its handler; `migrate` applies its migrations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from compiler import handlers
from compiler.models import SCHEMA, metadata
from compiler.repository import CompilationRepository
from compiler.settings import CompilerSettings
from contracts.envelope import Envelope
from contracts.subjects import COMPILER_COMPILE_AGENT
from runtime.cli import migrate_command
from runtime.service import Binding, serve

SERVICE = "compiler"
MIGRATIONS = Path(__file__).parent / "migrations"


async def on_compile_agent(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
    return await handlers.handle_compile_agent(
        envelope.data, compilations=CompilationRepository(session)
    )


BINDINGS = (Binding(COMPILER_COMPILE_AGENT, on_compile_agent),)


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, CompilerSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, CompilerSettings, metadata, BINDINGS)
