"""The workers' `…Erased` events, and the dead letters of the erasure's commands, applied to the
erasure's progress."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog
from pydantic import BaseModel

from contracts.privacy import (
    CompilationsErasedV1,
    EraseCompilationsV1,
    EraseTestRunsV1,
    EraseVersionsV1,
    TestRunsErasedV1,
    UserDataErased,
    UserErasure,
    VersionsErasedV1,
)

log = structlog.get_logger()

SERVICE_OF: dict[type[UserDataErased], str] = {
    CompilationsErasedV1: "compiler",
    TestRunsErasedV1: "test-runner",
    VersionsErasedV1: "publisher",
}
SERVICE_ERASING: dict[type[UserErasure], str] = {
    EraseCompilationsV1: "compiler",
    EraseTestRunsV1: "test-runner",
    EraseVersionsV1: "publisher",
}


class ErasedParts(Protocol):
    async def record_part(self, erasure_id: UUID, service: str, part: int) -> bool: ...


class Erasures(Protocol):
    async def fail_part(self, erasure_id: UUID, service: str, part: int, reason: str) -> None: ...


async def handle_data_erased(event: BaseModel, *, parts: ErasedParts) -> list[BaseModel]:
    """Consumes `CompilationsErasedV1`, `TestRunsErasedV1` and `VersionsErasedV1`; emits nothing.
    The part is marked erased, and the erasure completed with its last part.

    Idempotency key: `(erasure_id, service, part)`: a part is marked once.
    """
    if not isinstance(event, UserDataErased) or type(event) not in SERVICE_OF:
        return []
    service = SERVICE_OF[type(event)]
    if await parts.record_part(event.erasure_id, service, event.part):
        log.info("erasure.completed", erasure_id=str(event.erasure_id))
    return []


async def handle_erase_dead_lettered(
    command: BaseModel, reason: str, *, erasures: Erasures
) -> bool:
    """Records an erasure command's dead letter: its part failed, with `reason`, until the part is
    erased (the command replayed after a fix). False for any other command.

    Idempotency key: `(erasure_id, service, part)`; a part already erased is left as it is.
    """
    if not isinstance(command, UserErasure) or type(command) not in SERVICE_ERASING:
        return False
    service = SERVICE_ERASING[type(command)]
    await erasures.fail_part(command.erasure_id, service, command.part, reason)
    log.warning("erasure.part_failed", erasure_id=str(command.erasure_id), service=service)
    return True


def is_erasure_event(event: BaseModel) -> bool:
    return type(event) in SERVICE_OF
