"""Use cases of the erasure: start it (the gateway's rows and the saga's commands in one
transaction) and read its status with its one-off token."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.privacy import (
    AGENTS_PER_PART,
    QUEUED_RUNS_PER_PART,
    EraseCompilationsV1,
    EraseTestRunsV1,
    EraseVersionsV1,
)
from gateway import auth
from gateway.errors import ApiError, not_found
from gateway.messages import send
from gateway.privacy.repository import Erasure, ErasurePart, ErasureRepository
from gateway.privacy.schemas import (
    ErasureAccepted,
    ErasurePublic,
    ErasureStatus,
    ServiceErasurePublic,
)

STATUS_TOKEN_PREFIX = "ers_"
SERVICES = ("compiler", "test-runner", "publisher")  # each gets one command per part


def status_url(erasure_id: UUID) -> str:
    return f"/api/v1/erasures/{erasure_id}"


def parts_of(agent_ids: list[UUID]) -> list[list[UUID]]:
    """The agents in parts of at most `AGENTS_PER_PART`; one (empty) part for a user with none,
    since the workers also erase what names the user rather than an agent."""
    chunks = [agent_ids[i : i + AGENTS_PER_PART] for i in range(0, len(agent_ids), AGENTS_PER_PART)]
    return chunks or [[]]


async def erase_user(session: AsyncSession, user_id: UUID, correlation_id: UUID) -> ErasureAccepted:
    """Delete the user's gateway rows, revoke their tokens and send every worker its commands,
    all in the caller's transaction; a repeat (the user already gone) answers the same erasure."""
    erasures = ErasureRepository(session)
    if not await erasures.lock_user(user_id):
        earlier = await erasures.of_user(user_id)
        if earlier is None:
            raise ApiError(401, "invalid_token", "the API token is invalid or has been revoked")
        return ErasureAccepted(
            id=earlier.id,
            status=_status(earlier),
            status_url=status_url(earlier.id),
            status_token=None,
        )
    chunks = parts_of(await erasures.agent_ids(user_id))
    erasure_id, token = uuid4(), STATUS_TOKEN_PREFIX + secrets.token_urlsafe(32)
    await erasures.start(
        erasure_id, user_id, auth.hash_token(token), dict.fromkeys(SERVICES, len(chunks))
    )
    commands: list[BaseModel] = []
    for i, chunk in enumerate(chunks):
        part: dict[str, Any] = {
            "erasure_id": erasure_id,
            "user_id": user_id,
            "agent_ids": chunk,
            "part": i,
            "parts": len(chunks),
        }
        queued = await erasures.queued_run_ids(chunk, QUEUED_RUNS_PER_PART)
        commands += [
            EraseCompilationsV1(**part),
            EraseTestRunsV1(**part, queued_run_ids=queued),
            EraseVersionsV1(**part),
        ]
    await send(session, commands, user_id=user_id, correlation_id=correlation_id)
    await erasures.erase_gateway_rows(user_id)
    return ErasureAccepted(
        id=erasure_id, status="erasing", status_url=status_url(erasure_id), status_token=token
    )


async def erasure_status(
    session: AsyncSession, erasure_id: UUID, token: str | None
) -> ErasurePublic:
    """The erasure's progress for the holder of its status token; the same 404 for an unknown id
    and a wrong token."""
    erasure = await ErasureRepository(session).get(erasure_id)
    if (
        erasure is None
        or token is None
        or not hmac.compare_digest(erasure.status_token_hash, auth.hash_token(token))
    ):
        raise not_found("erasure", erasure_id)
    services = []
    for service in SERVICES:
        parts = [p for p in erasure.parts if p.service == service]
        erased = [p.erased_at for p in parts if p.erased_at is not None]
        failures = [p.failure_reason for p in parts if _failed(p)]
        services.append(
            ServiceErasurePublic(
                service=service,
                parts=len(parts),
                erased_parts=len(erased),
                completed_at=max(erased) if parts and len(erased) == len(parts) else None,
                failed_parts=len(failures),
                reason=failures[0] if failures else None,
            )
        )
    return ErasurePublic(
        id=erasure.id,
        status=_status(erasure),
        requested_at=erasure.requested_at,
        completed_at=erasure.completed_at,
        services=services,
    )


def _failed(part: ErasurePart) -> bool:
    return part.failure_reason is not None and part.erased_at is None


def _status(erasure: Erasure) -> ErasureStatus:
    if erasure.completed_at is not None:
        return "completed"
    return "failed" if any(_failed(p) for p in erasure.parts) else "erasing"
