"""Personal API tokens, managed by their owner: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from gateway.deps import ClientDep, ReadTx, Tx
from gateway.errors import ErrorPublic
from gateway.users import service
from gateway.users.schemas import TokenCreate, TokenCreated, TokensPublic

router = APIRouter(prefix="/api/v1/tokens", tags=["identity"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such token of the caller's (or revoked)."}
}


@router.post("", status_code=201, response_model=TokenCreated)
async def create_token(body: TokenCreate, tx: Tx, client: ClientDep) -> TokenCreated:
    """A new token for the caller. `token` is in this answer only; keep it now."""
    return await service.create_token(tx.session, tx.user_id, body, client)


@router.get("", response_model=TokensPublic)
async def list_tokens(
    tx: ReadTx,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TokensPublic:
    """The caller's tokens not revoked, newest first (expired ones show their `expires_at`)."""
    return await service.list_tokens(tx.session, tx.user_id, limit, cursor)


@router.delete("/{token_id}", status_code=204, responses=NOT_FOUND)
async def revoke_token(token_id: UUID, tx: Tx, client: ClientDep) -> Response:
    """Revoke the token at once, on every gateway replica."""
    await service.revoke_token(tx.session, tx.user_id, token_id, client)
    return Response(status_code=204)
