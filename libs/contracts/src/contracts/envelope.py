"""The envelope every message travels in (CloudEvents attribute names where they fit)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """`id` doubles as the JetStream `Nats-Msg-Id`; `source` + `id` is unique per message."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(default_factory=uuid4)
    type: str
    source: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: UUID
    causation_id: UUID | None = None
    owner_id: UUID | None = Field(
        default=None, description="The user on whose behalf the message was sent."
    )
    data: DataT
