"""Spec use cases: read, save (with optimistic concurrency), history, and compilations. Scores and
lint on every read."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.compiler import CompileAgentV1
from contracts.spec import SpecBlocks
from contracts.storable import INT32_MAX
from gateway.errors import ApiError, agent_not_found, not_found
from gateway.messages import message_params
from gateway.specs import lint, rules
from gateway.specs.repository import (
    Compilation,
    Spec,
    SpecRepository,
    add_compilation,
    current_spec,
    find_compilation,
)
from gateway.specs.schemas import (
    CompilationAccepted,
    CompilationPublic,
    SpecPublic,
    SpecRevisionDetail,
    SpecRevisionPublic,
    SpecRevisionsPublic,
    WarningPublic,
)


def _public(row: Spec) -> SpecPublic:
    blocks = SpecBlocks.model_validate(row.blocks)
    return SpecPublic(
        agent_id=row.agent_id,
        blocks=blocks,
        revision=row.revision,
        updated_at=row.updated_at,
        completeness=rules.completeness(blocks),
        warnings=[WarningPublic.model_validate(w, from_attributes=True) for w in lint.lint(blocks)],
    )


# The spec reads and writes below check the owner in the statement itself (joined on the agent),
# which spares the hot paths a separate `OwnedAgent` read; they answer the same 404.


async def get_spec(session: AsyncSession, user_id: UUID, agent_id: UUID) -> SpecPublic:
    row = await SpecRepository(session).get(user_id, agent_id)
    if row is None:
        raise agent_not_found(agent_id)
    return _public(row)


async def save_spec(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    blocks: SpecBlocks,
    expected_revision: int | None,
    max_bytes: int,
) -> SpecPublic:
    """Save a new revision; with `expected_revision`, only if nobody saved since (else 412)."""
    # Stored as written (after validation and trimming): fields the person never set stay absent.
    stored = blocks.model_dump(mode="json", exclude_unset=True)
    size = len(json.dumps(stored, separators=(",", ":")).encode())
    if size > max_bytes:
        raise ApiError(413, "spec_too_large", f"the spec is {size} bytes; the limit is {max_bytes}")
    repo = SpecRepository(session)
    row = await repo.save(user_id, agent_id, stored, rules.completeness(blocks), expected_revision)
    if row is not None:
        return _public(row)
    current = await repo.get(user_id, agent_id)
    if current is None:
        raise agent_not_found(agent_id)
    raise ApiError(
        412,
        "revision_conflict",
        f"the spec changed since revision {expected_revision}: it is at revision {current.revision}. "
        "Reload it, reapply your edits and save again",
        current_revision=current.revision,
    )


async def list_revisions(
    session: AsyncSession, user_id: UUID, agent_id: UUID, limit: int, before: int | None
) -> SpecRevisionsPublic:
    repo = SpecRepository(session)
    rows = await repo.list_revisions(user_id, agent_id, limit + 1, before)
    if not rows and await repo.get(user_id, agent_id) is None:
        raise agent_not_found(agent_id)
    page = rows[:limit]
    return SpecRevisionsPublic(
        items=[SpecRevisionPublic.model_validate(r, from_attributes=True) for r in page],
        next_before=page[-1].revision if len(rows) > limit else None,
    )


async def get_revision(
    session: AsyncSession, user_id: UUID, agent_id: UUID, revision: int
) -> SpecRevisionDetail:
    row = await SpecRepository(session).get_revision(user_id, agent_id, revision)
    if row is None:
        raise not_found("spec revision", revision)
    return SpecRevisionDetail.model_validate(row, from_attributes=True)


def parse_if_match(header: str | None) -> int | None:
    """`"3"` (or `W/"3"`, or `3`) → 3; absent or `*` → None (no precondition)."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    # isascii: "²".isdigit() holds, but it is no revision number (nor does int() read it).
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(INT32_MAX))
    if not (digits and int(value) <= INT32_MAX):
        raise ApiError(400, "invalid_if_match", 'If-Match must be a spec revision ETag such as "3"')
    return int(value)


def etag(revision: int) -> str:
    return f'"{revision}"'


async def request_compilation(
    connection: AsyncConnection[Any], user_id: UUID, agent_id: UUID, correlation_id: UUID
) -> tuple[CompilationAccepted, dict[str, Any]]:
    """Record a pending compilation and its compile command (the outbox): the spec's read, then
    one statement that writes both, each in autocommit (direct_pool.py). Returns the answer and
    the command's outbox row, for the relay to publish from memory."""
    spec = await current_spec(connection, user_id, agent_id)
    if spec is None:
        raise agent_not_found(agent_id)
    compilation_id = uuid4()
    command = CompileAgentV1(
        compilation_id=compilation_id,
        agent_id=agent_id,
        spec_revision=spec.revision,
        blocks=spec.blocks,
    )
    params = message_params(command, user_id=user_id, correlation_id=correlation_id)
    await add_compilation(connection, compilation_id, agent_id, spec.revision, params)
    return CompilationAccepted(id=compilation_id, status="pending"), params


async def get_compilation(
    connection: AsyncConnection[Any], user_id: UUID, agent_id: UUID, compilation_id: UUID
) -> CompilationPublic:
    row = await find_compilation(connection, user_id, agent_id, compilation_id)
    if row is None:
        raise not_found("compilation", compilation_id)
    return _public_compilation(row)


def completed_compilation(row: dict[str, Any]) -> CompilationPublic:
    """A compilation as its completion notice carries it (`notifications.py`), for a request
    that has already found it the caller's."""
    return _public_compilation(Compilation.model_validate(row))


def _public_compilation(row: Compilation) -> CompilationPublic:
    data = row.model_dump()
    data["sections"] = data["sections"] or []
    data["variables"] = data["variables"] or []
    return CompilationPublic.model_validate(data)
