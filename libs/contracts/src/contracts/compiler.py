"""Messages of the compile flow: the command the gateway sends and the events the compiler emits."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
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


class VariableDecl(BaseModel):
    """A `{{variable}}` the instructions use, as declared in the spec."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    required: bool = True
    default: str | None = None


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
    variables: list[VariableDecl] = Field(
        default_factory=list, description="Declared `{{variables}}`, to render the instructions."
    )
    token_count: int | None = Field(default=None, description="Tokens in the instructions.")
    token_count_method: str | None = Field(
        default=None, description="The tokenizer's encoding when exact, or `estimate: …`."
    )
    reused_from: UUID | None = Field(
        default=None, description="The compilation of an identical spec whose result this reuses."
    )


class CompilationFailedV1(BaseModel):
    """Event: the specification could not be compiled; `error` says why, for a person to act on."""

    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int
    error: str


class ListCompilationsV1(BaseModel):
    """Query: an agent's compilations as the compiler stored them, oldest id first (after
    `after`, if given): what it holds of a user, for their export."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    after: UUID | None = None
    limit: int = Field(default=20, ge=1, le=100)


class StoredCompilation(BaseModel):
    model_config = ConfigDict(frozen=True)

    compilation_id: UUID
    agent_id: UUID
    spec_revision: int
    spec_hash: str
    compiler_version: str
    status: Literal["succeeded", "failed"]
    instructions: str | None
    sections: list[Section]
    variables: list[VariableDecl]
    token_count: int | None
    token_count_method: str | None
    error: str | None
    reused_from: UUID | None
    created_at: datetime


class CompilationsV1(BaseModel):
    """Reply: a page of compilations; `next_after` for the next one, None at the end (a page may
    hold fewer than `limit`, to stay under the largest message NATS carries)."""

    model_config = ConfigDict(frozen=True)

    items: list[StoredCompilation]
    next_after: UUID | None
