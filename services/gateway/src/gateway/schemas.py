"""HTTP request and response models of the public API (not the contracts: services map between them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AgentDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName
    description: AgentDescription = ""


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName | None = None
    description: AgentDescription | None = None


class AgentPublic(BaseModel):
    id: UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class AgentsPublic(BaseModel):
    items: list[AgentPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class SpecUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blocks: dict[str, JsonValue]


class SpecPublic(BaseModel):
    agent_id: UUID
    blocks: dict[str, JsonValue]
    revision: int
    updated_at: datetime


CompilationStatus = Literal["pending", "succeeded", "failed"]


class CompilationAccepted(BaseModel):
    id: UUID
    status: CompilationStatus


class SectionPublic(BaseModel):
    title: str
    body: str


class CompilationPublic(BaseModel):
    id: UUID
    agent_id: UUID
    status: CompilationStatus
    spec_revision: int
    instructions: str | None
    sections: list[SectionPublic]
    spec_hash: str | None
    compiler_version: str | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorPublic(BaseModel):
    error: ErrorDetail
