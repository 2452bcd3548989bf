"""Signing in by mailed link, and the session's life: each use case takes the request's session
explicitly; the request's transaction (deps.py) commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.audit.repository import AuditRepository, ClientInfo
from gateway.deps import Caller
from gateway.errors import ApiError
from gateway.identity.repository import MailRepository, SessionRepository, SignInLinkRepository
from gateway.identity.schemas import MePublic, SessionPublic
from gateway.settings import GatewaySettings
from gateway.users.repository import UserRepository

log = structlog.get_logger()

SUBJECT = "Your Agent Studio sign-in link"


async def request_link(session: AsyncSession, email: str, settings: GatewaySettings) -> None:
    """Store a new link (its hash) and queue its mail. The same work whatever the address: whether
    it belongs to anyone is not looked at until the link is used."""
    secret = auth.new_secret()
    ttl = timedelta(minutes=settings.sign_in_link_ttl_minutes)
    await SignInLinkRepository(session).add(email, auth.hash_token(secret), ttl)
    link = f"{settings.base_url}/auth/callback?token={secret}"
    if settings.smtp_url is not None:
        await MailRepository(session).add(email, SUBJECT, mail_body(link, ttl), ttl)
    if settings.studio_env == "development":
        # Only on a developer's machine: a link in a log is a way into the account.
        log.info("auth.sign_in_link", email=email, link=link)


def mail_body(link: str, ttl: timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return (
        "Open this link to sign in to Agent Studio:\n\n"
        f"{link}\n\n"
        f"It works once, within {minutes} minutes. If you did not ask to sign in, ignore this mail.\n"
    )


@dataclass(frozen=True)
class SignInOutcome:
    """A new session's cookie secret, or why the link was refused."""

    secret: str | None = None
    refused: str | None = None


async def complete_sign_in(
    session: AsyncSession,
    link_secret: str,
    previous_secret: str | None,
    settings: GatewaySettings,
    client: ClientInfo,
) -> SignInOutcome:
    """Use the link once and open a new session (a user for a new address). A refused link is
    recorded, and returned rather than raised, so that record commits."""
    links = SignInLinkRepository(session)
    users = UserRepository(session)
    audit = AuditRepository(session)
    link_hash = auth.hash_token(link_secret)
    email = await links.use(link_hash)
    if email is None:
        link = await links.find(link_hash)
        reason = "unknown" if link is None else "used" if link.used_at else "expired"
        user_id = None if link is None else await users.find_id_by_email(link.email)
        await audit.append(user_id, "sign_in_failed", client, reason=reason)
        return SignInOutcome(refused=reason)
    user_id = await users.get_or_add_by_email(email)
    sessions = SessionRepository(session)
    if previous_secret:  # a new session id at every sign-in: the old one ends here
        await sessions.revoke_by_secret(auth.hash_token(previous_secret))
    secret = auth.new_secret()
    lifetime = timedelta(hours=settings.session_lifetime_hours)
    opened = await sessions.add(user_id, auth.hash_token(secret), lifetime, client)
    await audit.append(user_id, "sign_in", client, session_id=str(opened.id))
    return SignInOutcome(secret=secret)


async def sign_out(session: AsyncSession, caller: Caller, client: ClientInfo) -> None:
    if caller.session is None:
        raise ApiError(
            400,
            "no_session",
            "this request is authenticated by an API token, not a session; revoke the token "
            "with DELETE /api/v1/tokens/{id}",
        )
    await SessionRepository(session).revoke(caller.session.id)
    await AuditRepository(session).append(
        caller.user_id, "sign_out", client, session_id=str(caller.session.id)
    )


async def sign_out_everywhere(session: AsyncSession, caller: Caller, client: ClientInfo) -> int:
    revoked = await SessionRepository(session).revoke_all(caller.user_id)
    await AuditRepository(session).append(
        caller.user_id, "sign_out_everywhere", client, sessions_revoked=revoked
    )
    return revoked


async def me(session: AsyncSession, caller: Caller, settings: GatewaySettings) -> MePublic:
    user = await UserRepository(session).get(caller.user_id)
    if user is None:  # deleted while the request was on its way
        raise ApiError(401, "unauthenticated", "the account no longer exists")
    current = None
    if caller.session is not None and caller.csrf_token is not None:
        current = SessionPublic(
            **caller.session.model_dump(include={"id", "created_at", "last_seen_at", "expires_at"}),
            idle_timeout_minutes=settings.session_idle_minutes,
            ip=caller.session.ip,
            user_agent=caller.session.user_agent,
            csrf_token=caller.csrf_token,
        )
    return MePublic(
        id=user.id,
        email=user.email,
        created_at=user.created_at,
        authenticated_by="token" if current is None else "session",
        session=current,
    )
