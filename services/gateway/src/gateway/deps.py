"""FastAPI dependencies: the request's database session, the caller, the agent it names, and the
app's shared clients and settings.

A route gets its session one way: `Tx` when it writes (one transaction, committed when the route
returns), `ReadTx` when it only reads (autocommit); the agent list alone, the API's hottest read,
and a compilation's request and answer take psycopg connections of the direct pool instead
(`DirectTx`: direct_pool.py, which authenticates and admits through here).
`OwnedAgent` / `ReadOwnedAgent` load the agent of the path's `agent_id` through the route's
session, or answer the one 404 for an agent that is not the caller's. `CurrentUser` is for routes
that touch no table at all (serving published agents). `AnonymousTx` is the transaction of the few
routes that have no caller yet (signing in).

The caller is known by a bearer API token or by the session cookie; a state-changing request of a
session must pass the CSRF check (identity/csrf.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth, ratelimit
from gateway.admission import Admission, Slot
from gateway.agents.repository import Agent, AgentRepository
from gateway.audit.repository import ClientInfo
from gateway.errors import ApiError, agent_not_found
from gateway.identity import csrf
from gateway.identity.cookies import SESSION_COOKIE
from gateway.identity.mail import MailRelay
from gateway.identity.repository import Session, SessionRepository
from gateway.notifications import Notifications, TokenCache
from gateway.publishing.read_model import PublishedCache
from gateway.quotas.service import Quotas
from gateway.settings import GatewaySettings
from gateway.users.repository import UserRepository
from runtime.ai import AIProvider
from runtime.outbox import Relay
from runtime.service import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def admission(request: Request) -> Admission:
    """The bound every request's session is opened under (admission.py)."""
    admission: Admission = request.app.state.admission
    return admission


async def get_relay(service: ServiceDep) -> Relay:
    return service.relay


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_notifications(request: Request) -> Notifications:
    notifications: Notifications = request.app.state.notifications
    return notifications


async def get_published(request: Request) -> PublishedCache:
    published: PublishedCache = request.app.state.published
    return published


async def get_provider(request: Request) -> AIProvider:
    provider: AIProvider = request.app.state.provider
    return provider


PublishedDep = Annotated[PublishedCache, Depends(get_published)]
ProviderDep = Annotated[AIProvider, Depends(get_provider)]
RelayDep = Annotated[Relay, Depends(get_relay)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
NotificationsDep = Annotated[Notifications, Depends(get_notifications)]


async def get_tokens(request: Request) -> TokenCache:
    tokens: TokenCache = request.app.state.tokens
    return tokens


# A route that revokes tokens empties its own replica's cache once it commits (`after_commit`):
# the others hear the revocation notice, which may reach this replica after its next request.
TokensDep = Annotated[TokenCache, Depends(get_tokens)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal API token (`POST /api/v1/tokens` or `studio token create`).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Caller:
    """Who sent the request: a user, through an API token or a browser session (`session`, with
    the CSRF token a state-changing request of that session must send)."""

    user_id: UUID
    session: Session | None = None
    csrf_token: str | None = None


async def authenticate(
    request: Request, session: AsyncSession | None, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller, by bearer token when one is sent, else by session cookie. Every refusal of bad
    credentials (for a rate limit to count) is raised here. Without a `session`, a check that
    needs the database (a token not in the cache, a session cookie) opens a read of its own."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return Caller(await _token_user(request, session, credentials.credentials))
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        return await _session_caller(request, session, secret)
    raise ApiError(
        401,
        "unauthenticated",
        "send an API token as 'Authorization: Bearer <token>', or sign in for a session cookie",
    )


@asynccontextmanager
async def _session_or_read(
    request: Request, session: AsyncSession | None
) -> AsyncIterator[AsyncSession]:
    if session is not None:
        yield session
        return
    service: Service = request.app.state.service
    async with service.reader() as own:
        yield own


async def _token_user(request: Request, session: AsyncSession | None, token: str) -> UUID:
    token_hash = auth.hash_token(token)
    notifications: Notifications = request.app.state.notifications
    tokens: TokenCache = request.app.state.tokens
    # The cache is trusted only while revocation notices can reach it.
    if notifications.listening and (cached := tokens.get(token_hash)) is not None:
        return cached
    # A flood of made-up tokens is refused here, before each would cost a database read.
    await ratelimit.check_bad_credentials(request)
    async with _session_or_read(request, session) as reading:
        found = await UserRepository(reading).get_live_token(token_hash)
    if found is None:
        await ratelimit.record_bad_credentials(request)
        raise ApiError(
            401, "invalid_token", "the API token is invalid, expired or has been revoked"
        )
    valid_for = None
    if found.expires_at is not None:
        valid_for = (found.expires_at - datetime.now(found.expires_at.tzinfo)).total_seconds()
    tokens.put(token_hash, found.user_id, valid_for)
    return found.user_id


async def _session_caller(request: Request, session: AsyncSession | None, secret: str) -> Caller:
    settings: GatewaySettings = request.app.state.settings
    idle = timedelta(minutes=settings.session_idle_minutes)
    await ratelimit.check_bad_credentials(request)
    async with _session_or_read(request, session) as reading:
        found = await SessionRepository(reading).get_live(auth.hash_token(secret), idle)
    if found is None:
        await ratelimit.record_bad_credentials(request)
        raise ApiError(
            401, "session_ended", "the session has ended or was signed out; sign in again"
        )
    problem = csrf.refusal(
        request.method,
        request.headers.get(csrf.HEADER),
        request.headers.get("origin"),
        request.headers.get("referer"),
        secret,
        csrf.origin_of(settings.base_url) or settings.base_url,
    )
    if problem is not None:
        raise ApiError(403, "csrf_refused", problem)
    return Caller(found.user_id, found, auth.csrf_token(secret))


class OfCaller:
    """What a request's database access knows of its caller (`caller`, a field of each)."""

    caller: Caller

    @property
    def user_id(self) -> UUID:
        return self.caller.user_id


@dataclass
class Unit:
    """One database transaction of a request, committed when the route returns, before the
    response is sent; `after_commit` callbacks (e.g. waking the outbox relay) run only once the
    commit succeeded. A route with no caller (signing in) gets it bare (`AnonymousTx`)."""

    session: AsyncSession
    _after_commit: list[Callable[[], None]] = field(default_factory=list, kw_only=True)
    slot: Slot | None = field(default=None, kw_only=True)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    async def release(self) -> None:
        """Commit now, run the `after_commit` callbacks and hand the connection back: for a route
        that then waits on the outcome of what it wrote. A later statement starts a new
        transaction, which `release()` (or the route's end) ends in turn; it runs outside the
        admission bound (admission.py)."""
        await self.session.commit()
        if self.slot is not None:
            self.slot.release()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()


@dataclass
class Transaction(Unit, OfCaller):
    """A request's one transaction, opened by authenticating its caller."""

    caller: Caller = field(kw_only=True)


async def transaction(
    request: Request, service: ServiceDep, credentials: Credentials
) -> AsyncIterator[Transaction]:
    # Leaving the block without the commit below (the route raised) rolls back.
    async with admission(request).slot() as slot, service.sessionmaker() as session:
        caller = await authenticate(request, session, credentials)
        tx = Transaction(session, caller=caller, slot=slot)
        yield tx
        await tx.release()


# scope="function": the transaction ends before the response is sent, so a client that reads
# right after a 2xx always sees what it wrote.
Tx = Annotated[Transaction, Depends(transaction, scope="function")]


async def anonymous_transaction(request: Request, service: ServiceDep) -> AsyncIterator[Unit]:
    async with admission(request).slot() as slot, service.sessionmaker() as session:
        unit = Unit(session, slot=slot)
        yield unit
        await unit.release()


AnonymousTx = Annotated[Unit, Depends(anonymous_transaction, scope="function")]


@dataclass(frozen=True)
class Reading(OfCaller):
    """A request that only reads: each statement commits on its own (no BEGIN/COMMIT round trips)."""

    session: AsyncSession
    caller: Caller
    slot: Slot

    async def release(self) -> None:
        """Hand the connection and the admission slot back before waiting (on a notice, another
        service, a stream's client); the next statement takes a connection again."""
        await self.session.close()
        self.slot.release()


async def reading(request: Request, credentials: Credentials) -> AsyncIterator[Reading]:
    # The service from the app's state, not `ServiceDep`: one dependency fewer to solve on the
    # API's hottest reads.
    service: Service = request.app.state.service
    async with admission(request).slot() as slot, service.reader() as session:
        yield Reading(session, await authenticate(request, session, credentials), slot)


ReadTx = Annotated[Reading, Depends(reading, scope="function")]


async def unauthenticated_reading(
    request: Request, service: ServiceDep
) -> AsyncIterator[AsyncSession]:
    """An autocommit session for a route that checks its own credential (an erasure's status)."""
    async with admission(request).slot(), service.reader() as session:
        yield session


PublicRead = Annotated[AsyncSession, Depends(unauthenticated_reading, scope="function")]


async def current_user(request: Request, credentials: Credentials) -> UUID:
    """The caller, for routes that use no table (the token is usually in the cache)."""
    async with admission(request).slot():
        return (await authenticate(request, None, credentials)).user_id


CurrentUser = Annotated[UUID, Depends(current_user)]


async def _owned_agent(tx: Transaction | Reading, agent_id: UUID) -> Agent:
    agent = await AgentRepository(tx.session).get(tx.user_id, agent_id)
    if agent is None:
        raise agent_not_found(agent_id)
    return agent


async def owned_agent(agent_id: UUID, tx: Tx) -> Agent:
    """The path's agent, read in the request's transaction; 404 unless it is the caller's, the same
    answer for another owner's agent as for one that does not exist."""
    return await _owned_agent(tx, agent_id)


async def read_owned_agent(agent_id: UUID, tx: ReadTx) -> Agent:
    """`owned_agent` for a route that only reads (through the same `ReadTx` session)."""
    return await _owned_agent(tx, agent_id)


OwnedAgent = Annotated[Agent, Depends(owned_agent)]
ReadOwnedAgent = Annotated[Agent, Depends(read_owned_agent)]


async def get_correlation_id(request: Request) -> UUID:
    """The request's correlation id, set by the request-context middleware."""
    correlation_id: UUID = request.state.correlation_id
    return correlation_id


CorrelationId = Annotated[UUID, Depends(get_correlation_id)]


async def get_client(request: Request) -> ClientInfo:
    """Where the request came from, for the audit log."""
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


ClientDep = Annotated[ClientInfo, Depends(get_client)]


async def get_mail(request: Request) -> MailRelay | None:
    """The mail relay; None in development without `SMTP_URL` (links are only logged)."""
    mail: MailRelay | None = request.app.state.mail
    return mail


MailDep = Annotated[MailRelay | None, Depends(get_mail)]


async def get_quotas(request: Request) -> Quotas:
    quotas: Quotas = request.app.state.quotas
    return quotas


QuotasDep = Annotated[Quotas, Depends(get_quotas)]
