"""Compilations: requested here, carried out by the compiler over NATS."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from gateway import schemas, services
from gateway.deps import CorrelationId, CurrentUser, Db, RelayDep
from runtime.faults import failpoint

router = APIRouter(prefix="/api/v1/agents/{agent_id}/compilations", tags=["compilations"])


@router.post("", status_code=202, response_model=schemas.CompilationAccepted)
async def request_compilation(
    agent_id: UUID, user: CurrentUser, db: Db, relay: RelayDep, correlation_id: CorrelationId
) -> schemas.CompilationAccepted:
    async with db.begin() as session:
        accepted = await services.request_compilation(session, user, agent_id, correlation_id)
    failpoint("gateway.compile_committed")
    relay.nudge()  # committed: the compile command goes out now rather than at the next poll
    return accepted


@router.get("/{compilation_id}", response_model=schemas.CompilationPublic)
async def get_compilation(
    agent_id: UUID, compilation_id: UUID, user: CurrentUser, db: Db
) -> schemas.CompilationPublic:
    async with db.begin() as session:
        return await services.get_compilation(session, user, agent_id, compilation_id)
