"""The workers' `…Erased` events, applied to the erasure's progress."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel

from contracts.privacy import (
    CompilationsErasedV1,
    TestRunsErasedV1,
    UserDataErased,
    VersionsErasedV1,
)

log = structlog.get_logger()

SERVICE_OF: dict[type[UserDataErased], str] = {
    CompilationsErasedV1: "compiler",
    TestRunsErasedV1: "test-runner",
    VersionsErasedV1: "publisher",
}


class Erasures(Protocol):
    async def record_part(self, erasure_id: UUID, service: str, part: int) -> bool: ...


async def handle_data_erased(event: BaseModel, *, erasures: Erasures) -> list[BaseModel]:
    """Consumes `CompilationsErasedV1`, `TestRunsErasedV1` and `VersionsErasedV1`; emits nothing.
    The part is marked erased, and the erasure completed with its last part.

    Idempotency key: `(erasure_id, service, part)`: a part is marked once.
    """
    if not isinstance(event, UserDataErased) or type(event) not in SERVICE_OF:
        return []
    service = SERVICE_OF[type(event)]
    if await erasures.record_part(event.erasure_id, service, event.part):
        log.info("erasure.completed", erasure_id=str(event.erasure_id))
    return []


def is_erasure_event(event: BaseModel) -> bool:
    return type(event) in SERVICE_OF
