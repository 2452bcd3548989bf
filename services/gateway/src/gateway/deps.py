"""FastAPI dependencies: the database, the relay, the settings and the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import auth
from gateway.errors import ApiError
from gateway.notifications import Notifications, TokenCache
from gateway.published import PublishedCache
from gateway.repository import UserRepository
from gateway.settings import GatewaySettings
from runtime.ai import AIProvider
from runtime.outbox import Relay
from runtime.service import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_db(service: ServiceDep) -> async_sessionmaker[AsyncSession]:
    return service.sessionmaker


async def get_reader(service: ServiceDep) -> async_sessionmaker[AsyncSession]:
    return service.reader


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


Db = Annotated[async_sessionmaker[AsyncSession], Depends(get_db)]
PublishedDep = Annotated[PublishedCache, Depends(get_published)]
ProviderDep = Annotated[AIProvider, Depends(get_provider)]
Reader = Annotated[async_sessionmaker[AsyncSession], Depends(get_reader)]
RelayDep = Annotated[Relay, Depends(get_relay)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
NotificationsDep = Annotated[Notifications, Depends(get_notifications)]

_bearer = HTTPBearer(auto_error=False, description="A personal API token (`studio token create`).")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _authenticate(
    request: Request, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> UUID:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthenticated", "send an API token as 'Authorization: Bearer <token>'"
        )
    token_hash = auth.hash_token(credentials.credentials)
    notifications: Notifications = request.app.state.notifications
    tokens: TokenCache = request.app.state.tokens
    # The cache is trusted only while revocation notices can reach it.
    if notifications.listening and (cached := tokens.get(token_hash)) is not None:
        return cached
    user_id = await UserRepository(session).get_user_id_by_token_hash(token_hash)
    if user_id is None:
        raise ApiError(401, "invalid_token", "the API token is invalid or has been revoked")
    tokens.put(token_hash, user_id)
    return user_id


@dataclass
class Transaction:
    """A request's one database transaction, opened by authenticating its caller.

    It commits when the route returns, before the response is sent; `after_commit` callbacks
    (e.g. waking the outbox relay) run only once the commit succeeded.
    """

    session: AsyncSession
    user_id: UUID
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


async def transaction(
    request: Request, db: Db, credentials: Credentials
) -> AsyncIterator[Transaction]:
    async with db.begin() as session:
        tx = Transaction(session, await _authenticate(request, session, credentials))
        yield tx
    for callback in tx._after_commit:
        callback()


# scope="function": the transaction ends before the response is sent, so a client that reads
# right after a 2xx always sees what it wrote.
Tx = Annotated[Transaction, Depends(transaction, scope="function")]


@dataclass(frozen=True)
class Reading:
    """A request that only reads: each statement commits on its own (no BEGIN/COMMIT round trips)."""

    session: AsyncSession
    user_id: UUID


async def reading(
    request: Request, reader: Reader, credentials: Credentials
) -> AsyncIterator[Reading]:
    async with reader() as session:
        yield Reading(session, await _authenticate(request, session, credentials))


ReadTx = Annotated[Reading, Depends(reading, scope="function")]


async def current_user(request: Request, reader: Reader, credentials: Credentials) -> UUID:
    """The caller, for routes that hold no session while they wait."""
    async with reader() as session:
        return await _authenticate(request, session, credentials)


CurrentUser = Annotated[UUID, Depends(current_user)]


async def get_correlation_id(request: Request) -> UUID:
    """The request's correlation id, set by the request-context middleware."""
    correlation_id: UUID = request.state.correlation_id
    return correlation_id


CorrelationId = Annotated[UUID, Depends(get_correlation_id)]
