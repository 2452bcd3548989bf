"""Handlers of the compiler's events: they keep the gateway's compilation views up to date."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.compiler import AgentCompiledV1, CompilationFailedV1
from gateway.agents.repository import PENDING_OR_DEAD_LETTERED
from gateway.specs.repository import CompilationOutcomes


async def handle_compiler_event(
    event: BaseModel, *, compilations: CompilationOutcomes
) -> list[BaseModel]:
    """Consumes the compiler's events: `AgentCompiledV1`, `CompilationFailedV1`; emits nothing.

    Idempotency key: the compilation id; only a pending view is completed, so a replay is a no-op,
    or one its command's dead letter failed (the command replayed, ADR 0008).
    Events it has no use for (e.g. ones added later) are ignored: a tolerant reader.
    """
    if isinstance(event, AgentCompiledV1):
        await compilations.complete(
            event.compilation_id,
            PENDING_OR_DEAD_LETTERED,
            status="succeeded",
            instructions=event.instructions,
            sections=[s.model_dump() for s in event.sections],
            spec_hash=event.spec_hash,
            compiler_version=event.compiler_version,
            variables=[v.model_dump(mode="json") for v in event.variables],
            token_count=event.token_count,
            token_count_method=event.token_count_method,
            reused_from=event.reused_from,
        )
    elif isinstance(event, CompilationFailedV1):
        await compilations.complete(
            event.compilation_id, PENDING_OR_DEAD_LETTERED, status="failed", error=event.error
        )
    return []
