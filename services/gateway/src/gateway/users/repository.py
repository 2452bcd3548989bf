"""The SQL for users and their personal API tokens (the operator's CLI writes them; every request
reads them to authenticate)."""

from __future__ import annotations

from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import api_tokens, users
from gateway.notifications import TOKEN_REVOKED


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

    async def add_token(self, user_id: UUID, name: str, token_hash: bytes, prefix: str) -> UUID:
        token_id = uuid4()
        await self._session.execute(
            sa.insert(api_tokens).values(
                id=token_id, user_id=user_id, name=name, token_hash=token_hash, token_prefix=prefix
            )
        )
        return token_id

    async def get_user_id_by_token_hash(self, token_hash: bytes) -> UUID | None:
        return await self._session.scalar(
            sa.select(api_tokens.c.user_id).where(
                api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None)
            )
        )

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
        # Every gateway replica drops its token cache when this commits.
        await self._session.execute(sa.select(sa.func.pg_notify(TOKEN_REVOKED, "")))
        return int(getattr(result, "rowcount", 0))
