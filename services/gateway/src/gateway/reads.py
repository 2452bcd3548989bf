"""Reads answered by another service's query, on behalf of a user the gateway has already checked
to own what is read: one place that maps "no answer" to a 503 naming the service."""

from __future__ import annotations

from uuid import UUID

from nats.aio.client import Client
from pydantic import BaseModel

from gateway.errors import ApiError
from gateway.settings import SERVICE, GatewaySettings
from runtime.queries import QueryFailed, ask


class QueryReads:
    unavailable_code = "service_unavailable"
    reading = "read"

    def __init__(
        self, nc: Client, settings: GatewaySettings, user_id: UUID, correlation_id: UUID
    ) -> None:
        self.nc = nc
        self.settings = settings
        self._user_id = user_id
        self._correlation_id = correlation_id

    async def _ask(self, query: BaseModel) -> BaseModel:
        try:
            return await ask(
                self.nc,
                query,
                root=self.settings.nats_subject_root,
                source=SERVICE,
                owner_id=self._user_id,
                correlation_id=self._correlation_id,
                timeout=self.settings.query_timeout_seconds,
            )
        except QueryFailed as exc:
            raise ApiError(503, self.unavailable_code, f"cannot {self.reading}: {exc}") from None
