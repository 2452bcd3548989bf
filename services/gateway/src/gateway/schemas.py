"""HTTP request and response models of the public API (not the contracts: services map between them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from contracts.coach import BlockName
from contracts.spec import SpecBlocks, Variable
from contracts.testing import TestCaseSpec

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

    blocks: SpecBlocks


class WarningPublic(BaseModel):
    code: str = Field(description="Stable identifier of the lint rule.")
    block: str
    field: str | None
    message: str


class SpecPublic(BaseModel):
    agent_id: UUID
    blocks: SpecBlocks
    revision: int = Field(description="Also sent as the ETag; send it back in If-Match to save.")
    updated_at: datetime
    completeness: int = Field(
        ge=0, le=100, description="How much of the spec is filled in, 0 to 100."
    )
    warnings: list[WarningPublic]


class SpecRevisionPublic(BaseModel):
    revision: int
    completeness: int
    author_id: UUID
    created_at: datetime


class SpecRevisionsPublic(BaseModel):
    items: list[SpecRevisionPublic]
    next_before: int | None = Field(
        description="Pass as `before` for the next page; null on the last."
    )


class SpecRevisionDetail(SpecRevisionPublic):
    blocks: SpecBlocks


class CoachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block: BlockName = Field(description="The block to draft.")
    guidance: str = Field(default="", max_length=2000, description="What the author wants.")


class BlockDraftPublic(BaseModel):
    status: Literal["drafted"] = "drafted"
    block: BlockName
    draft: JsonValue = Field(description="The proposed block; saving it is up to the person.")
    provider: str
    offline: bool = Field(description="True when written by the offline stand-in, not a model.")
    message: str


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
    variables: list[Variable]
    token_count: int | None = Field(description="Tokens in the instructions.")
    token_count_method: str | None = Field(
        description="The tokenizer's encoding (e.g. o200k_base) when exact, else `estimate: …`."
    )
    reused_from: UUID | None = Field(
        description="Set when an identical spec had been compiled: its compilation's id."
    )
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorPublic(BaseModel):
    error: ErrorDetail


class TestCasePublic(TestCaseSpec):
    id: UUID
    created_at: datetime
    updated_at: datetime


class TestCasesPublic(BaseModel):
    __test__ = False

    items: list[TestCasePublic]
    next_cursor: str | None


class DroppedAssertion(BaseModel):
    type: str
    reason: str


class ImportedCase(BaseModel):
    index: int = Field(description="The test's position in the imported list, from 0.")
    status: Literal["imported", "skipped"]
    id: UUID | None = None
    description: str | None = None
    dropped: list[DroppedAssertion] = Field(
        default_factory=list,
        description="Assertions left out because Agent Studio does not run them.",
    )
    problem: str | None = Field(default=None, description="Why the test was skipped.")


class ImportReport(BaseModel):
    imported: int
    skipped: int
    cases: list[ImportedCase]
