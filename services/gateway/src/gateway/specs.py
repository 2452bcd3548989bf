"""Spec use cases: read, save (with optimistic concurrency), history. Scores and lint on every read."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.spec import SpecBlocks
from gateway import schemas, spec_lint, spec_rules
from gateway.errors import ApiError, not_found
from gateway.repository import SpecRepository


def _public(row: Any) -> schemas.SpecPublic:
    blocks = SpecBlocks.model_validate(row.blocks)
    return schemas.SpecPublic(
        agent_id=row.agent_id,
        blocks=blocks,
        revision=row.revision,
        updated_at=row.updated_at,
        completeness=spec_rules.completeness(blocks),
        warnings=[
            schemas.WarningPublic.model_validate(w, from_attributes=True)
            for w in spec_lint.lint(blocks)
        ],
    )


async def get_spec(session: AsyncSession, user_id: UUID, agent_id: UUID) -> schemas.SpecPublic:
    row = await SpecRepository(session).get(user_id, agent_id)
    if row is None:
        raise not_found("agent", agent_id)
    return _public(row)


async def save_spec(
    session: AsyncSession,
    user_id: UUID,
    agent_id: UUID,
    blocks: SpecBlocks,
    expected_revision: int | None,
    max_bytes: int,
) -> schemas.SpecPublic:
    """Save a new revision; with `expected_revision`, only if nobody saved since (else 412)."""
    # Stored as written (after validation and trimming): fields the person never set stay absent.
    stored = blocks.model_dump(mode="json", exclude_unset=True)
    size = len(json.dumps(stored, separators=(",", ":")).encode())
    if size > max_bytes:
        raise ApiError(413, "spec_too_large", f"the spec is {size} bytes; the limit is {max_bytes}")
    repo = SpecRepository(session)
    row = await repo.save(
        user_id, agent_id, stored, spec_rules.completeness(blocks), expected_revision
    )
    if row is not None:
        return _public(row)
    current = await repo.get(user_id, agent_id)
    if current is None:
        raise not_found("agent", agent_id)
    raise ApiError(
        412,
        "revision_conflict",
        f"the spec changed since revision {expected_revision}: it is at revision {current.revision}. "
        "Reload it, reapply your edits and save again",
        current_revision=current.revision,
    )


async def list_revisions(
    session: AsyncSession, user_id: UUID, agent_id: UUID, limit: int, before: int | None
) -> schemas.SpecRevisionsPublic:
    repo = SpecRepository(session)
    rows = await repo.list_revisions(user_id, agent_id, limit + 1, before)
    if not rows and await repo.get(user_id, agent_id) is None:
        raise not_found("agent", agent_id)
    page = rows[:limit]
    return schemas.SpecRevisionsPublic(
        items=[schemas.SpecRevisionPublic.model_validate(r._mapping) for r in page],
        next_before=page[-1].revision if len(rows) > limit else None,
    )


async def get_revision(
    session: AsyncSession, user_id: UUID, agent_id: UUID, revision: int
) -> schemas.SpecRevisionDetail:
    row = await SpecRepository(session).get_revision(user_id, agent_id, revision)
    if row is None:
        raise not_found("spec revision", revision)
    return schemas.SpecRevisionDetail.model_validate(row._mapping)


def parse_if_match(header: str | None) -> int | None:
    """`"3"` (or `W/"3"`, or `3`) → 3; absent or `*` → None (no precondition)."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ApiError(400, "invalid_if_match", 'If-Match must be a spec revision ETag such as "3"')
    return int(value)


def etag(revision: int) -> str:
    return f'"{revision}"'
