"""Handlers of the publisher's events: they complete the publish and channel-move requests the
gateway asked for."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.publishing import (
    ChannelMovedV1,
    ChannelMoveRefusedV1,
    PublishRefusedV1,
    VersionPublishedV1,
)
from gateway.agents.repository import PENDING_OR_DEAD_LETTERED
from gateway.publishing.repository import PublishRepository


async def handle_publisher_event(
    event: BaseModel, *, requests: PublishRepository
) -> list[BaseModel]:
    """Consumes the publisher's events: the outcomes of the publishes and moves asked for here.

    Idempotency key: the request id (`publish_id`, `move_id`, `import_id`); only a pending view
    completes (an import's first version completes it), or one its command's dead letter failed
    (the command replayed, ADR 0008).
    """
    if isinstance(event, VersionPublishedV1) and event.import_id is not None:
        await requests.complete(event.import_id, PENDING_OR_DEAD_LETTERED, status="done")
    elif isinstance(event, VersionPublishedV1):
        await requests.complete(
            event.publish_id,
            PENDING_OR_DEAD_LETTERED,
            status="done",
            version=event.version.number,
            channel=event.channel,
        )
    elif isinstance(event, PublishRefusedV1):
        await requests.complete(
            event.publish_id,
            PENDING_OR_DEAD_LETTERED,
            status="refused",
            reason=event.reason,
            regressions=[str(c) for c in event.regressions],
        )
    elif isinstance(event, ChannelMovedV1) and event.move_id is not None:
        await requests.complete(
            event.move_id, PENDING_OR_DEAD_LETTERED, status="done", seq=event.move.seq
        )
    elif isinstance(event, ChannelMoveRefusedV1):
        await requests.complete(
            event.move_id, PENDING_OR_DEAD_LETTERED, status="refused", reason=event.reason
        )
    return []
