"""Compilations: requested here, carried out by the compiler over NATS."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from gateway import schemas, services
from gateway.deps import CorrelationId, CurrentUser, NotificationsDep, Reader, RelayDep, Tx
from runtime.faults import failpoint

router = APIRouter(prefix="/api/v1/agents/{agent_id}/compilations", tags=["compilations"])


@router.post("", status_code=202, response_model=schemas.CompilationAccepted)
async def request_compilation(
    agent_id: UUID, tx: Tx, relay: RelayDep, correlation_id: CorrelationId
) -> schemas.CompilationAccepted:
    accepted = await services.request_compilation(tx.session, tx.user_id, agent_id, correlation_id)
    tx.after_commit(lambda: failpoint("gateway.compile_committed"))
    tx.after_commit(relay.nudge)  # the compile command goes out now rather than at the next poll
    return accepted


@router.get("/{compilation_id}", response_model=schemas.CompilationPublic)
async def get_compilation(
    agent_id: UUID,
    compilation_id: UUID,
    user: CurrentUser,
    reader: Reader,
    notifications: NotificationsDep,
    wait: Annotated[
        float,
        Query(ge=0, le=30, description="Seconds to wait for a pending compilation to finish."),
    ] = 0,
) -> schemas.CompilationPublic:
    completed = notifications.register(compilation_id)
    try:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            async with reader() as session:
                found = await services.get_compilation(session, user, agent_id, compilation_id)
            remaining = deadline - asyncio.get_running_loop().time()
            if found.status != "pending" or remaining <= 0:
                return found
            # Woken by the completion notice; the periodic re-read covers a missed notification.
            with suppress(TimeoutError):
                await asyncio.wait_for(completed.wait(), timeout=min(remaining, 1.0))
            completed.clear()
    finally:
        notifications.unregister(compilation_id, completed)
