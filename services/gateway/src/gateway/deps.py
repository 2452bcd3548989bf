"""FastAPI dependencies: the database, the relay, the settings and the signed-in user."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import auth
from gateway.errors import ApiError
from gateway.notifications import CompletionWaiters
from gateway.repository import UserRepository
from gateway.settings import GatewaySettings
from runtime.outbox import Relay
from runtime.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_db(service: ServiceDep) -> async_sessionmaker[AsyncSession]:
    return service.sessionmaker


def get_relay(service: ServiceDep) -> Relay:
    return service.relay


def get_settings(service: ServiceDep) -> GatewaySettings:
    assert isinstance(service.settings, GatewaySettings)
    return service.settings


def get_waiters(request: Request) -> CompletionWaiters:
    waiters: CompletionWaiters = request.app.state.waiters
    return waiters


Db = Annotated[async_sessionmaker[AsyncSession], Depends(get_db)]
RelayDep = Annotated[Relay, Depends(get_relay)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
WaitersDep = Annotated[CompletionWaiters, Depends(get_waiters)]

_bearer = HTTPBearer(auto_error=False, description="A personal API token (`studio token create`).")


async def current_user(
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UUID:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthenticated", "send an API token as 'Authorization: Bearer <token>'"
        )
    async with db() as session:
        user_id = await UserRepository(session).get_user_id_by_token_hash(
            auth.hash_token(credentials.credentials)
        )
    if user_id is None:
        raise ApiError(401, "invalid_token", "the API token is invalid or has been revoked")
    return user_id


CurrentUser = Annotated[UUID, Depends(current_user)]


def get_correlation_id(request: Request) -> UUID:
    """The request's correlation id, set by the request-context middleware."""
    correlation_id: UUID = request.state.correlation_id
    return correlation_id


CorrelationId = Annotated[UUID, Depends(get_correlation_id)]
