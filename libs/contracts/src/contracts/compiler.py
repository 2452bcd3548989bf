"""Messages of the compile flow: the command the gateway sends and the events the compiler emits."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class CompileAgentV1(BaseModel):
    """Command: compile this snapshot of an agent's specification."""

    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int = Field(ge=0)
    blocks: dict[str, JsonValue]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    body: str


class AgentCompiledV1(BaseModel):
    """Event: a compilation succeeded. Carries the instructions, which are bounded by the spec limits."""

    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int
    instructions: str
    sections: list[Section]
    spec_hash: str
    compiler_version: str


class CompilationFailedV1(BaseModel):
    """Event: the specification could not be compiled; `error` says why, for a person to act on."""

    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int
    error: str
