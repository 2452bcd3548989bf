"""Small valid messages for tests of the delivery machinery."""

from __future__ import annotations

import uuid
from typing import Any

from contracts.compiler import AgentCompiledV1, CompileAgentV1
from contracts.envelope import Envelope
from contracts.registry import envelope_for


def compile_envelope() -> Envelope[Any]:
    command = CompileAgentV1(
        compilation_id=uuid.uuid4(), agent_id=uuid.uuid4(), spec_revision=1, blocks={}
    )
    return envelope_for(command, source="test", correlation_id=uuid.uuid4(), owner_id=None)


def compiled_event(cmd: CompileAgentV1) -> AgentCompiledV1:
    return AgentCompiledV1(
        compilation_id=cmd.compilation_id,
        agent_id=cmd.agent_id,
        spec_revision=cmd.spec_revision,
        instructions="## System Backbone\nx",
        sections=[],
        spec_hash="h",
        compiler_version="test",
    )
