"""The compiler's entrypoint: binds its consumer to its handler; `migrate` applies its migrations."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from compiler import handlers
from compiler.adapters.tokens import token_counter
from compiler.models import SCHEMA, erased_owners, metadata
from compiler.repository import CompilationRepository, CompileCommands
from compiler.settings import CompilerSettings
from contracts.compiler import AgentCompiledV1, CompileAgentV1
from contracts.envelope import Envelope
from contracts.subjects import (
    COACH_BLOCK,
    COMPILER_COMPILE_AGENT,
    COMPILER_ERASE_COMPILATIONS,
    LIST_COMPILATIONS,
)
from runtime.ai import provider_from_settings
from runtime.cli import migrate_command
from runtime.db import DirectUnit
from runtime.erasure import ask_erased, unless_erased
from runtime.queries import QueryBinding
from runtime.service import Binding, Service, serve

SERVICE = "compiler"
MIGRATIONS = Path(__file__).parent / "migrations"

compilation_duration = Histogram(
    "compilation_duration_seconds",
    "Time to compile a spec (or find an identical one's compilation).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
compilation_latency = Histogram(
    "compilation_latency_seconds",
    "Time from the compile request (the command's creation in the gateway) to its compilation "
    "being stored: the queue, the relay and the compiler; what the compile latency SLO measures.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
compilations_total = Counter(
    "compilations", "Compilations by outcome (succeeded, failed, reused).", ["outcome"]
)
compilation_cache_hits = Counter(
    "compilation_cache_hits", "Compilations answered by reusing an identical spec's compilation."
)


def bindings(service: Service) -> tuple[Binding | QueryBinding, ...]:
    settings = service.settings
    count_tokens = token_counter(settings.ai_model)

    async def on_compile_agent(envelope: Envelope[Any], unit: DirectUnit) -> list[BaseModel]:
        started = time.perf_counter()
        emitted = await handlers.handle_compile_agent(
            envelope.data, compilations=CompileCommands(unit), count_tokens=count_tokens
        )
        compilation_duration.observe(time.perf_counter() - started)
        compilation_latency.observe(max(0.0, time.time() - envelope.time.timestamp()))
        for event in emitted:
            if isinstance(event, AgentCompiledV1) and event.reused_from is not None:
                compilation_cache_hits.inc()
                compilations_total.labels("reused").inc()
            else:
                compilations_total.labels(
                    "succeeded" if isinstance(event, AgentCompiledV1) else "failed"
                ).inc()
        return emitted

    async def read_ahead(unit: DirectUnit, envelopes: list[Envelope[Any]]) -> None:
        # Sent with the group's inbox claim, in its round trip: the owners' erasure checks and
        # the reuse lookups the handlers then make (runtime.staged.ReadAhead).
        commands = [e.data for e in envelopes if isinstance(e.data, CompileAgentV1)]
        await ask_erased(unit, erased_owners, (e.owner_id for e in envelopes))
        await CompileCommands(unit).ask_reusable(handlers.reuse_key(cmd) for cmd in commands)

    async def on_erase(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_erase_compilations(
            envelope.data, compilations=CompilationRepository(session)
        )

    provider = provider_from_settings(settings)
    service.closers.append(provider.aclose)

    async def on_coach_block(envelope: Envelope[Any]) -> BaseModel:
        return await handlers.handle_coach_block(envelope.data, provider=provider)

    async def on_list_compilations(envelope: Envelope[Any]) -> BaseModel:
        async with service.reader() as session:
            return await handlers.answer_list_compilations(
                envelope.data, compilations=CompilationRepository(session)
            )

    return (
        Binding(  # the hot path: a group commit on psycopg directly (runtime.staged)
            COMPILER_COMPILE_AGENT,
            unless_erased(erased_owners, on_compile_agent),
            grouped=True,
            direct=True,
            read_ahead=read_ahead,
        ),
        Binding(COMPILER_ERASE_COMPILATIONS, on_erase),
        QueryBinding(COACH_BLOCK, on_coach_block),
        QueryBinding(LIST_COMPILATIONS, on_list_compilations),
    )


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, CompilerSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, CompilerSettings, metadata, bindings)
