"""The compile command's reads and writes (`CompileCommands`) on a direct group's unit against real
PostgreSQL: the reuse lookups read ahead with the group's claim answer as the table would, group
mates included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from compiler import handlers
from compiler.adapters.tokens import token_counter
from compiler.repository import CompileCommands
from contracts.compiler import AgentCompiledV1, CompileAgentV1
from runtime import db
from runtime.db import DirectUnit

pytestmark = pytest.mark.integration


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the test session's migrated database, in pipeline mode, as the compiler's
    writer holds its own."""
    async with (
        await psycopg.AsyncConnection.connect(db.libpq_url(database_url), autocommit=True) as conn,
        conn.pipeline(),
    ):
        yield conn


def command(blocks: dict[str, Any]) -> CompileAgentV1:
    return CompileAgentV1(
        compilation_id=uuid.uuid4(), agent_id=uuid.uuid4(), spec_revision=1, blocks=blocks
    )


async def compile_in(unit: DirectUnit, cmd: CompileAgentV1) -> AgentCompiledV1:
    (event,) = await handlers.handle_compile_agent(
        cmd, compilations=CompileCommands(unit), count_tokens=token_counter("gpt-4o-mini")
    )
    assert isinstance(event, AgentCompiledV1)
    return event


async def test_a_group_read_ahead_reuses_a_spec_compiled_before_and_one_compiled_in_the_group(
    connection: psycopg.AsyncConnection[Any],
) -> None:
    stored = {"persona": {"role": f"stored {uuid.uuid4()}"}}
    fresh = {"persona": {"role": f"fresh {uuid.uuid4()}"}}
    earlier = command(stored)
    async with connection.transaction():
        before = await compile_in(DirectUnit(connection), earlier)

    # One group: its lookups all go out ahead, before any of its compilations is stored.
    group = [command(stored), command(fresh), command(fresh), command(stored)]
    async with connection.transaction():
        unit = DirectUnit(connection)
        await CompileCommands(unit).ask_reusable(handlers.reuse_key(cmd) for cmd in group)
        events = [await compile_in(unit, cmd) for cmd in group]

    assert before.reused_from is None
    assert [e.reused_from for e in events] == [
        earlier.compilation_id,
        None,  # the first of its spec: compiled
        group[1].compilation_id,  # stored by its group mate after the lookup went out
        group[0].compilation_id,  # the latest of its spec, as the table would answer
    ]
    assert events[2].instructions == events[1].instructions
