"""HTTP models of specs, their revisions, the coach and compilations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from contracts.coach import BlockName
from contracts.spec import SpecBlocks, Variable
from contracts.storable import Text


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
    guidance: Text = Field(default="", max_length=2000, description="What the author wants.")


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
