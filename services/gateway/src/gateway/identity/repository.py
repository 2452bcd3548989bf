"""The SQL of signing in: mailed links, browser sessions and the mail outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.repository import ClientInfo
from gateway.models import mail_outbox, sessions, sign_in_links

TOUCH_EVERY = timedelta(
    minutes=1
)  # last-seen is refreshed at most this often: no write per request


class SignInLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    expires_at: datetime
    used_at: datetime | None


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    user_id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


class Mail(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    recipient: str
    subject: str
    body: str
    attempts: int
    expires_at: datetime


class SignInLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, email: str, token_hash: bytes, ttl: timedelta) -> None:
        await self._session.execute(
            sa.insert(sign_in_links).values(
                id=uuid4(), email=email, token_hash=token_hash, expires_at=sa.func.now() + ttl
            )
        )

    async def use(self, token_hash: bytes) -> str | None:
        """The link's address, marking it used, if it is unused and unexpired: one statement, so
        two clicks at once sign in once."""
        email: str | None = await self._session.scalar(
            sa.update(sign_in_links)
            .where(
                sign_in_links.c.token_hash == token_hash,
                sign_in_links.c.used_at.is_(None),
                sign_in_links.c.expires_at > sa.func.now(),
            )
            .values(used_at=sa.func.now())
            .returning(sign_in_links.c.email)
        )
        return email

    async def find(self, token_hash: bytes) -> SignInLink | None:
        row = (
            await self._session.execute(
                sa.select(sign_in_links).where(sign_in_links.c.token_hash == token_hash)
            )
        ).one_or_none()
        return None if row is None else SignInLink.model_validate(row._mapping)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, user_id: UUID, secret_hash: bytes, lifetime: timedelta, client: ClientInfo
    ) -> Session:
        row = (
            await self._session.execute(
                sa.insert(sessions)
                .values(
                    id=uuid4(),
                    secret_hash=secret_hash,
                    user_id=user_id,
                    expires_at=sa.func.now() + lifetime,
                    ip=client.ip,
                    user_agent=client.user_agent[:512] if client.user_agent else None,
                )
                .returning(sessions)
            )
        ).one()
        return Session.model_validate(row._mapping)

    async def get_live(self, secret_hash: bytes, idle: timedelta) -> Session | None:
        """The session of this secret unless revoked, past its lifetime or idle too long; its
        last-seen time refreshed when a minute old."""
        live = (
            sessions.c.secret_hash == secret_hash,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > sa.func.now(),
            sessions.c.last_seen_at > sa.func.now() - idle,
        )
        row = (await self._session.execute(sa.select(sessions).where(*live))).one_or_none()
        if row is None:
            return None
        found = Session.model_validate(row._mapping)
        if datetime.now(found.last_seen_at.tzinfo) - found.last_seen_at >= TOUCH_EVERY:
            unlocked = (  # as for tokens: a concurrent request refreshing it is not waited for
                sa.select(sessions.c.id)
                .where(sessions.c.id == found.id)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            await self._session.execute(
                sa.update(sessions)
                .where(sessions.c.id == unlocked)
                .values(last_seen_at=sa.func.now())
            )
        return found

    async def revoke(self, session_id: UUID) -> None:
        await self._session.execute(
            sa.update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now())
        )

    async def revoke_by_secret(self, secret_hash: bytes) -> None:
        await self._session.execute(
            sa.update(sessions)
            .where(sessions.c.secret_hash == secret_hash, sessions.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now())
        )

    async def revoke_all(self, user_id: UUID) -> int:
        result = await self._session.execute(
            sa.update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now())
        )
        return int(getattr(result, "rowcount", 0))


class MailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, recipient: str, subject: str, body: str, ttl: timedelta) -> None:
        await self._session.execute(
            sa.insert(mail_outbox).values(
                id=uuid4(),
                recipient=recipient,
                subject=subject,
                body=body,
                expires_at=sa.func.now() + ttl,
            )
        )

    async def claim_due(self, limit: int, lease: timedelta) -> list[Mail]:
        """Mail due for a send, leased for `lease` (another replica skips it meanwhile; a crash
        mid-send leaves it to be sent again when the lease ends)."""
        due = (
            sa.select(mail_outbox.c.id)
            .where(mail_outbox.c.next_attempt_at <= sa.func.now())
            .order_by(mail_outbox.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            sa.update(mail_outbox)
            .where(mail_outbox.c.id.in_(due))
            .values(next_attempt_at=sa.func.now() + lease, attempts=mail_outbox.c.attempts + 1)
            .returning(mail_outbox)
        )
        return [Mail.model_validate(r._mapping) for r in rows]

    async def sent(self, mail_id: UUID) -> None:
        # Deleted, not marked: the body holds a sign-in link, which should not outlive its use.
        await self._session.execute(sa.delete(mail_outbox).where(mail_outbox.c.id == mail_id))

    async def failed(self, mail_id: UUID, error: str, retry_in: timedelta) -> None:
        await self._session.execute(
            sa.update(mail_outbox)
            .where(mail_outbox.c.id == mail_id)
            .values(last_error=error[:500], next_attempt_at=sa.func.now() + retry_in)
        )
