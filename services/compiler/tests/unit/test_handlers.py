"""Unit tests of `handle_compile_agent` with a hand-written fake of the compilations store."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from compiler import domain
from compiler.handlers import Compilations, handle_compile_agent
from contracts.compiler import AgentCompiledV1, CompilationFailedV1, CompileAgentV1, Section


class FakeCompilations:
    """Keeps compilations in a dict keyed by id; a second insert of an id stores nothing, like the
    repository's `ON CONFLICT DO NOTHING`."""

    def __init__(self, rows: dict[UUID, dict[str, Any]] | None = None) -> None:
        self.rows: dict[UUID, dict[str, Any]] = dict(rows or {})

    async def add_succeeded(
        self,
        compilation_id: UUID,
        agent_id: UUID,
        spec_revision: int,
        compiled: domain.Compiled,
        version: str,
    ) -> bool:
        return self._insert(
            compilation_id,
            {
                "status": "succeeded",
                "agent_id": agent_id,
                "spec_revision": spec_revision,
                "spec_hash": compiled.spec_hash,
                "instructions": compiled.instructions,
                "version": version,
            },
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
        return self._insert(
            compilation_id,
            {
                "status": "failed",
                "agent_id": agent_id,
                "spec_revision": spec_revision,
                "spec_hash": spec_hash,
                "version": version,
                "error": error,
            },
        )

    def _insert(self, compilation_id: UUID, row: dict[str, Any]) -> bool:
        if compilation_id in self.rows:
            return False
        self.rows[compilation_id] = row
        return True


def as_protocol(fake: FakeCompilations) -> Compilations:
    """Lets mypy check that the fake satisfies the handler's Protocol."""
    return fake


def command(blocks: dict[str, Any], revision: int = 3) -> CompileAgentV1:
    return CompileAgentV1(
        compilation_id=uuid4(), agent_id=uuid4(), spec_revision=revision, blocks=blocks
    )


async def test_new_command_stores_succeeded_compilation_and_emits_agent_compiled() -> None:
    blocks = {"persona": "You are Ada.", "workflow": ["Greet", "Help"]}
    cmd = command(blocks, revision=3)
    store = FakeCompilations()

    emitted = await handle_compile_agent(cmd, compilations=as_protocol(store))

    assert len(emitted) == 1
    event = emitted[0]
    assert isinstance(event, AgentCompiledV1)
    assert event.compilation_id == cmd.compilation_id
    assert event.agent_id == cmd.agent_id
    assert event.spec_revision == 3
    assert event.instructions.startswith("## System Backbone")
    assert event.instructions == "## System Backbone\nYou are Ada.\n\n## Workflow\n- Greet\n- Help"
    assert event.sections == [
        Section(title="System Backbone", body="You are Ada."),
        Section(title="Workflow", body="- Greet\n- Help"),
    ]
    assert event.spec_hash == domain.spec_hash(blocks)
    assert event.compiler_version == domain.COMPILER_VERSION
    assert store.rows == {
        cmd.compilation_id: {
            "status": "succeeded",
            "agent_id": cmd.agent_id,
            "spec_revision": 3,
            "spec_hash": domain.spec_hash(blocks),
            "instructions": event.instructions,
            "version": domain.COMPILER_VERSION,
        }
    }


async def test_redelivered_command_stores_nothing_and_emits_nothing() -> None:
    cmd = command({"workflow": ["Greet"]})
    earlier = {"status": "succeeded", "agent_id": cmd.agent_id, "spec_revision": 3}
    store = FakeCompilations({cmd.compilation_id: earlier})

    emitted = await handle_compile_agent(cmd, compilations=as_protocol(store))

    assert emitted == []
    assert store.rows == {cmd.compilation_id: earlier}


async def test_same_command_handled_twice_emits_one_event() -> None:
    cmd = command({"workflow": ["Greet"]})
    store = FakeCompilations()

    first = await handle_compile_agent(cmd, compilations=as_protocol(store))
    second = await handle_compile_agent(cmd, compilations=as_protocol(store))

    assert [type(m) for m in first] == [AgentCompiledV1]
    assert second == []
    assert list(store.rows) == [cmd.compilation_id]


async def test_spec_that_fails_to_compile_stores_failed_compilation_and_emits_failure() -> None:
    # No `dict[str, JsonValue]` that pydantic accepts is rejected by the renderer (pydantic turns
    # every JSON value into str/int/float/bool/None/list/dict), so the command is built without
    # validation. A tuple is JSON-serialisable (the spec hash works) but not a renderable value.
    blocks: dict[str, Any] = {"workflow": ("Greet", "Help")}
    cmd = CompileAgentV1.model_construct(
        compilation_id=uuid4(), agent_id=uuid4(), spec_revision=7, blocks=blocks
    )
    store = FakeCompilations()

    emitted = await handle_compile_agent(cmd, compilations=as_protocol(store))

    assert emitted == [
        CompilationFailedV1(
            compilation_id=cmd.compilation_id,
            agent_id=cmd.agent_id,
            spec_revision=7,
            error="unsupported value of type tuple",
        )
    ]
    assert store.rows == {
        cmd.compilation_id: {
            "status": "failed",
            "agent_id": cmd.agent_id,
            "spec_revision": 7,
            "spec_hash": domain.spec_hash(blocks),
            "version": domain.COMPILER_VERSION,
            "error": "unsupported value of type tuple",
        }
    }
