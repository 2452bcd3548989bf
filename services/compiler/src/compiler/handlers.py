"""Handlers of the compiler's messages: a message in, explicit dependencies, messages out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel

from compiler import domain
from contracts.compiler import CompileAgentV1


class Compilations(Protocol):
    async def add(self, outcome: domain.Outcome) -> bool:
        """Store `outcome`; False when a compilation with its id was already stored."""

    async def find_reusable(self, spec_hash: str, compiler_version: str) -> domain.Outcome | None:
        """The latest succeeded compilation of an identical spec by the same compiler version."""


async def handle_compile_agent(
    cmd: CompileAgentV1,
    *,
    compilations: Compilations,
    count_tokens: Callable[[str], domain.TokenCount],
) -> list[BaseModel]:
    """Consumes `CompileAgentV1`; emits `AgentCompiledV1` or `CompilationFailedV1`.

    An identical spec already compiled by this compiler version is reused, not compiled again.
    Idempotency key: `compilation_id` (besides the inbox): a compilation already stored is a no-op.
    """
    reusable = await compilations.find_reusable(
        domain.spec_hash(cmd.blocks), domain.COMPILER_VERSION
    )
    if reusable is not None:
        outcome = reusable.reused_for(cmd)
    else:
        outcome = domain.compile_command(cmd, count_tokens)
    if not await compilations.add(outcome):
        return []
    return [outcome.event()]
