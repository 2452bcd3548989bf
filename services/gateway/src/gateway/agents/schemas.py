"""HTTP models of agents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.storable import NoNul, Number

AgentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul
]
AgentDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), NoNul]


MinPassRate = Annotated[Number, Field(ge=0, le=1)]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName
    description: AgentDescription = ""
    min_pass_rate: MinPassRate = Field(
        default=1.0, description="A publish whose test run passes less than this is refused."
    )


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AgentName | None = None
    description: AgentDescription | None = None
    min_pass_rate: MinPassRate | None = None


class AgentPublic(BaseModel):
    id: UUID
    name: str
    description: str
    min_pass_rate: float
    created_at: datetime
    updated_at: datetime


class AgentsPublic(BaseModel):
    items: list[AgentPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )
