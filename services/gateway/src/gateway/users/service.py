"""Personal API token use cases: create (shown once), list, revoke; each recorded in the audit
log. The request's transaction (deps.py) commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.audit.repository import AuditRepository, ClientInfo
from gateway.errors import not_found
from gateway.pagination import cut, decode_cursor
from gateway.users.repository import ApiToken, UserRepository
from gateway.users.schemas import TokenCreate, TokenCreated, TokenPublic, TokensPublic


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.token_prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


async def create_token(
    session: AsyncSession, user_id: UUID, body: TokenCreate, client: ClientInfo
) -> TokenCreated:
    secret = auth.new_token()
    valid_for = None if body.expires_in_days is None else timedelta(days=body.expires_in_days)
    token = await UserRepository(session).add_token(
        user_id, body.name, auth.hash_token(secret), auth.display_prefix(secret), valid_for
    )
    await AuditRepository(session).append(
        user_id, "token_created", client, token_id=str(token.id), name=token.name
    )
    return TokenCreated(**token_public(token).model_dump(), token=secret)


async def list_tokens(
    session: AsyncSession, user_id: UUID, limit: int, cursor: str | None
) -> TokensPublic:
    after = decode_cursor(cursor, datetime, UUID) if cursor else None
    rows = await UserRepository(session).list_tokens(user_id, limit + 1, after)
    page, next_cursor = cut(rows, limit, lambda t: (t.created_at, t.id))
    return TokensPublic(items=[token_public(t) for t in page], next_cursor=next_cursor)


async def revoke_token(
    session: AsyncSession, user_id: UUID, token_id: UUID, client: ClientInfo
) -> None:
    """Revoke at once on every replica; another user's token is simply not found."""
    token = await UserRepository(session).revoke_token(user_id, token_id)
    if token is None:
        raise not_found("token", token_id)
    await AuditRepository(session).append(
        user_id, "token_revoked", client, token_id=str(token.id), name=token.name
    )
