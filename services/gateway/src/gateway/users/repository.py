"""The SQL for users and their personal API tokens (created by the operator's CLI or by their owner
through the API; every request reads them to authenticate)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import api_tokens, users
from gateway.notifications import TOKEN_REVOKED

TOUCH_EVERY = timedelta(minutes=1)  # last-used is refreshed at most this often


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    email: str
    created_at: datetime


class ApiToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    user_id: UUID
    name: str
    token_prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_or_add_by_email(self, email: str) -> UUID:
        await self._session.execute(
            insert(users)
            .values(id=uuid4(), email=email)
            .on_conflict_do_nothing(index_elements=["email"])
        )
        user_id: UUID = (
            await self._session.execute(sa.select(users.c.id).where(users.c.email == email))
        ).scalar_one()
        return user_id

    async def find_id_by_email(self, email: str) -> UUID | None:
        return await self._session.scalar(sa.select(users.c.id).where(users.c.email == email))

    async def get(self, user_id: UUID) -> User | None:
        row = (
            await self._session.execute(sa.select(users).where(users.c.id == user_id))
        ).one_or_none()
        return None if row is None else User.model_validate(row._mapping)

    async def add_token(
        self,
        user_id: UUID,
        name: str,
        token_hash: bytes,
        prefix: str,
        valid_for: timedelta | None = None,
    ) -> ApiToken:
        row = (
            await self._session.execute(
                sa.insert(api_tokens)
                .values(
                    id=uuid4(),
                    user_id=user_id,
                    name=name,
                    token_hash=token_hash,
                    token_prefix=prefix,
                    expires_at=None if valid_for is None else sa.func.now() + valid_for,
                )
                .returning(*_TOKEN_COLUMNS)
            )
        ).one()
        return ApiToken.model_validate(row._mapping)

    async def get_live_token(self, token_hash: bytes) -> ApiToken | None:
        """The token of this hash unless revoked or expired; its last-used time refreshed when a
        minute old (so authenticating is not a write per request)."""
        row = (
            await self._session.execute(
                sa.select(*_TOKEN_COLUMNS).where(
                    api_tokens.c.token_hash == token_hash,
                    api_tokens.c.revoked_at.is_(None),
                    sa.or_(
                        api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > sa.func.now()
                    ),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        token = ApiToken.model_validate(row._mapping)
        used = token.last_used_at
        if used is None or datetime.now(used.tzinfo) - used >= TOUCH_EVERY:
            # SKIP LOCKED: a request already refreshing it holds the row until it ends; the
            # others neither wait for it nor write again.
            unlocked = (
                sa.select(api_tokens.c.id)
                .where(api_tokens.c.id == token.id)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            await self._session.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.id == unlocked)
                .values(last_used_at=sa.func.now())
            )
        return token

    async def list_tokens(
        self, user_id: UUID, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[ApiToken]:
        """The user's tokens not revoked (expired ones too, marked by `expires_at`), newest first."""
        query = sa.select(*_TOKEN_COLUMNS).where(
            api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None)
        )
        if after is not None:
            query = query.where(sa.tuple_(api_tokens.c.created_at, api_tokens.c.id) < after)
        rows = await self._session.execute(
            query.order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc()).limit(limit)
        )
        return [ApiToken.model_validate(r._mapping) for r in rows]

    async def revoke_token(self, user_id: UUID, token_id: UUID) -> ApiToken | None:
        """Revoke the user's token `token_id`; None when it is not theirs or already revoked."""
        row = (
            await self._session.execute(
                sa.update(api_tokens)
                .where(
                    api_tokens.c.id == token_id,
                    api_tokens.c.user_id == user_id,
                    api_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=sa.func.now())
                .returning(*_TOKEN_COLUMNS)
            )
        ).one_or_none()
        if row is None:
            return None
        await self._notify_revoked()
        return ApiToken.model_validate(row._mapping)

    async def _notify_revoked(self) -> None:
        # Every gateway replica drops its token cache when this commits.
        await self._session.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))

    async def revoke_tokens_with_prefix(self, email: str, prefix: str) -> int:
        result = await self._session.execute(
            sa.update(api_tokens)
            .where(
                api_tokens.c.user_id
                == sa.select(users.c.id).where(users.c.email == email).scalar_subquery(),
                api_tokens.c.token_prefix == prefix,
                api_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=sa.func.now())
        )
        await self._notify_revoked()
        return int(getattr(result, "rowcount", 0))


_TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.user_id,
    api_tokens.c.name,
    api_tokens.c.token_prefix,
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.last_used_at,
)
