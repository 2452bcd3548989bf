"""What a request emits: its commands and events go into the gateway's outbox in the request's
transaction, and the relay sends them once that commits (`tx.after_commit(relay.nudge)`); a hot
path writes its message in the same statement as its row, and hands it to the relay from memory
(`relay.publish_committed`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from contracts.registry import envelope_for
from gateway.models import metadata
from gateway.settings import SERVICE
from runtime import outbox

OUTBOX = metadata.tables["gateway.outbox"]


async def send(
    session: AsyncSession, messages: Sequence[BaseModel], *, user_id: UUID, correlation_id: UUID
) -> None:
    await outbox.add(session, OUTBOX, _envelopes(messages, user_id, correlation_id))


def _envelopes(
    messages: Sequence[BaseModel], user_id: UUID, correlation_id: UUID
) -> list[Envelope[Any]]:
    return [
        envelope_for(m, source=SERVICE, correlation_id=correlation_id, owner_id=user_id)
        for m in messages
    ]


def message_params(message: BaseModel, *, user_id: UUID, correlation_id: UUID) -> dict[str, Any]:
    """The outbox row of one message, for a hot path's statement that writes its row and its
    message at once (`runtime.outbox.insert_with_message`)."""
    [envelope] = _envelopes([message], user_id, correlation_id)
    return outbox.message_params(envelope)
