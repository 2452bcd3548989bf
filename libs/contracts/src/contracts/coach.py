"""The spec coach: a query the gateway asks and the compiler answers (request/reply, not stored)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

BlockName = Literal[
    "mission",
    "audience",
    "persona",
    "capabilities",
    "knowledge",
    "constraints",
    "workflow",
    "output",
    "examples",
    "escalation",
    "variables",
]


class CoachBlockV1(BaseModel):
    """Query: draft one block of this spec from what the rest of it says."""

    model_config = ConfigDict(frozen=True)

    agent_id: UUID
    block: BlockName
    guidance: str = Field(default="", max_length=2000)
    blocks: dict[str, JsonValue] = Field(description="The spec as it stands.")


class BlockDraftedV1(BaseModel):
    """Reply: a draft for the person to accept or edit, or why there is none."""

    model_config = ConfigDict(frozen=True)

    status: Literal["drafted", "unavailable", "failed"]
    block: BlockName
    draft: JsonValue = None
    provider: str | None = None
    offline: bool = False
    message: str = ""
    retry_after: float | None = None
