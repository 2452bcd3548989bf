"""Handlers of the compiler's messages: a message in, explicit dependencies, messages out."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from compiler import domain
from contracts.compiler import AgentCompiledV1, CompilationFailedV1, CompileAgentV1, Section


class Compilations(Protocol):
    """Stores compilations; each `add_…` returns False when the compilation was already stored."""

    async def add_succeeded(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        compiled: domain.Compiled,
        version: str,
    ) -> bool: ...

    async def add_failed(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        spec_hash: str,
        version: str,
        error: str,
    ) -> bool: ...


async def handle_compile_agent(
    cmd: CompileAgentV1, *, compilations: Compilations
) -> list[BaseModel]:
    """Consumes `CompileAgentV1`; emits `AgentCompiledV1` or `CompilationFailedV1`.

    Idempotency key: `compilation_id` (besides the inbox): a compilation already stored is a no-op.
    """
    try:
        compiled = domain.compile_spec(cmd.blocks)
    except domain.CompileError as exc:
        stored = await compilations.add_failed(
            cmd.compilation_id,
            cmd.agent_id,
            cmd.spec_revision,
            domain.spec_hash(cmd.blocks),
            domain.COMPILER_VERSION,
            str(exc),
        )
        if not stored:
            return []
        return [
            CompilationFailedV1(
                compilation_id=cmd.compilation_id,
                agent_id=cmd.agent_id,
                spec_revision=cmd.spec_revision,
                error=str(exc),
            )
        ]
    if not await compilations.add_succeeded(
        cmd.compilation_id, cmd.agent_id, cmd.spec_revision, compiled, domain.COMPILER_VERSION
    ):
        return []
    return [
        AgentCompiledV1(
            compilation_id=cmd.compilation_id,
            agent_id=cmd.agent_id,
            spec_revision=cmd.spec_revision,
            instructions=compiled.instructions,
            sections=[Section(title=s.title, body=s.body) for s in compiled.sections],
            spec_hash=compiled.spec_hash,
            compiler_version=domain.COMPILER_VERSION,
        )
    ]
