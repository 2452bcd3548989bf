"""`handle_compile_agent` with a hand-written fake of the compilations store."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from compiler import domain
from compiler.handlers import CompileStore, handle_compile_agent
from contracts.compiler import (
    AgentCompiledV1,
    CompilationFailedV1,
    CompileAgentV1,
    StoredCompilation,
)


class FakeCompilations:
    """Outcomes by id; a second add of an id stores nothing, like `ON CONFLICT DO NOTHING`."""

    def __init__(self) -> None:
        self.rows: dict[UUID, domain.Outcome] = {}

    async def add(self, outcome: domain.Outcome) -> bool:
        if outcome.compilation_id in self.rows:
            return False
        self.rows[outcome.compilation_id] = outcome
        return True

    async def page(self, agent_id: UUID, after: UUID | None, limit: int) -> list[StoredCompilation]:
        return []  # the query's paging is tested against PostgreSQL

    async def erase(self, user_id: UUID, agent_ids: list[UUID]) -> dict[str, int]:
        gone = [k for k, o in self.rows.items() if o.agent_id in agent_ids]
        for key in gone:
            del self.rows[key]
        return {"compilations": len(gone)}

    async def find_reusable(self, spec_hash: str, compiler_version: str) -> domain.Outcome | None:
        matches = [
            o
            for o in self.rows.values()
            if (o.spec_hash, o.compiler_version, o.status)
            == (spec_hash, compiler_version, "succeeded")
        ]
        return matches[-1] if matches else None


def as_store(fake: FakeCompilations) -> CompileStore:
    """Lets mypy check that the fake satisfies the handler's Protocol."""
    return fake


def count_words(text: str) -> domain.TokenCount:
    return domain.TokenCount(len(text.split()), "test: words")


def command(blocks: dict[str, Any], compilation_id: UUID | None = None) -> CompileAgentV1:
    return CompileAgentV1(
        compilation_id=compilation_id or uuid4(), agent_id=uuid4(), spec_revision=2, blocks=blocks
    )


async def handle(cmd: CompileAgentV1, store: FakeCompilations) -> list[Any]:
    return await handle_compile_agent(cmd, compilations=as_store(store), count_tokens=count_words)


async def test_a_new_command_stores_and_announces_the_compilation() -> None:
    store = FakeCompilations()
    cmd = command({"persona": {"role": "tutor"}, "variables": [{"name": "subject"}]})
    [event] = await handle(cmd, store)
    assert isinstance(event, AgentCompiledV1)
    assert (event.compilation_id, event.agent_id, event.spec_revision) == (
        cmd.compilation_id,
        cmd.agent_id,
        2,
    )
    assert event.instructions == "## System Backbone\nRole: tutor"
    assert [v.name for v in event.variables] == ["subject"]
    assert (event.token_count, event.token_count_method, event.reused_from) == (
        5,
        "test: words",
        None,
    )
    assert store.rows[cmd.compilation_id].status == "succeeded"


async def test_a_redelivered_command_changes_nothing_and_emits_nothing() -> None:
    store = FakeCompilations()
    cmd = command({"persona": {"role": "tutor"}})
    await handle(cmd, store)
    assert await handle(cmd, store) == []
    assert len(store.rows) == 1


async def test_an_identical_spec_reuses_the_earlier_compilation() -> None:
    store = FakeCompilations()
    first = command({"persona": {"role": "tutor"}})
    second = command({"persona": {"role": "tutor"}})
    [earlier] = await handle(first, store)
    [event] = await handle(second, store)
    assert isinstance(event, AgentCompiledV1)
    assert event.reused_from == first.compilation_id
    assert event.instructions == earlier.instructions
    assert store.rows[second.compilation_id].reused_from == first.compilation_id


async def test_a_spec_that_does_not_compile_is_stored_and_announced_as_failed() -> None:
    store = FakeCompilations()
    cmd = command({"mission": {"problem": "Help {{team}}"}})
    [event] = await handle(cmd, store)
    assert isinstance(event, CompilationFailedV1)
    assert event.error == "variables used but not declared: team"
    assert store.rows[cmd.compilation_id].status == "failed"
    # A failed compilation is never reused.
    [again] = await handle(command({"mission": {"problem": "Help {{team}}"}}), store)
    assert isinstance(again, CompilationFailedV1)
