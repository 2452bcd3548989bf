"""The caller's own audit log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.audit.repository import AuditRepository
from gateway.audit.schemas import AuditEntriesPublic, AuditEntryPublic
from gateway.deps import ReadTx
from gateway.pagination import cut, decode_cursor

router = APIRouter(prefix="/api/v1/me", tags=["identity"])


@router.get("/audit", response_model=AuditEntriesPublic)
async def list_audit(
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditEntriesPublic:
    """Sign-ins, failed sign-ins, sign-outs, token changes, forced publishes and imports of the
    caller's account; nobody else's."""
    (before,) = decode_cursor(cursor, int) if cursor else (None,)
    rows = await AuditRepository(tx.session).list_page(tx.user_id, limit + 1, before)
    page, next_cursor = cut(rows, limit, lambda r: (r.id,))
    return AuditEntriesPublic(
        items=[AuditEntryPublic.model_validate(r, from_attributes=True) for r in page],
        next_cursor=next_cursor,
    )
