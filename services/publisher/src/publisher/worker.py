"""The publisher's entrypoint: binds its consumers and queries to the handlers; `migrate` applies
its migrations."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.envelope import Envelope
from contracts.publishing import published_bucket
from contracts.subjects import (
    GET_CHANNEL_HISTORY,
    GET_VERSION,
    LIST_VERSIONS,
    PUBLISHER_ERASE_VERSIONS,
    PUBLISHER_GATEWAY_EVENTS,
    PUBLISHER_IMPORT_AGENT_VERSIONS,
    PUBLISHER_MOVE_CHANNEL,
    PUBLISHER_PUBLISH_VERSION,
    PUBLISHER_READ_MODEL,
    PUBLISHER_TEST_RUNNER_EVENTS,
)
from publisher import handlers
from publisher.adapters.read_model import PublishedBucket
from publisher.models import SCHEMA, erased_owners, metadata
from publisher.repository import RunOutcomeRepository, VersionRepository
from publisher.settings import PublisherSettings
from runtime.cli import migrate_command
from runtime.erasure import unless_erased
from runtime.queries import QueryBinding
from runtime.service import AnyBinding, Binding, Service, serve

SERVICE = "publisher"
MIGRATIONS = Path(__file__).parent / "migrations"


def bindings(service: Service) -> tuple[AnyBinding, ...]:
    bucket = published_bucket(service.settings.nats_subject_root)

    async def read_model() -> PublishedBucket:
        return PublishedBucket(await service.js.key_value(bucket))

    async def on_test_runner_event(
        envelope: Envelope[Any], session: AsyncSession
    ) -> list[BaseModel]:
        return await handlers.handle_test_runner_event(
            envelope.data, outcomes=RunOutcomeRepository(session)
        )

    async def on_publish(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_publish_version(
            envelope.data,
            versions=VersionRepository(session),
            outcomes=RunOutcomeRepository(session),
        )

    async def on_move(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_move_channel(
            envelope.data,
            versions=VersionRepository(session),
            outcomes=RunOutcomeRepository(session),
        )

    async def on_import(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_import_agent_versions(
            envelope.data, versions=VersionRepository(session)
        )

    async def on_own_event(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.project(
            envelope.data, versions=VersionRepository(session), read_model=await read_model()
        )

    async def on_gateway_event(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_gateway_event(
            envelope.data, versions=VersionRepository(session), read_model=await read_model()
        )

    async def on_erase(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
        return await handlers.handle_erase_versions(
            envelope.data,
            versions=VersionRepository(session),
            outcomes=RunOutcomeRepository(session),
            read_model=await read_model(),
        )

    def query(answer: Callable[..., Awaitable[BaseModel]]) -> Callable[..., Awaitable[BaseModel]]:
        async def on_query(envelope: Envelope[Any]) -> BaseModel:
            async with service.reader() as session:
                return await answer(envelope.data, versions=VersionRepository(session))

        return on_query

    return (
        Binding(PUBLISHER_TEST_RUNNER_EVENTS, unless_erased(erased_owners, on_test_runner_event)),
        Binding(PUBLISHER_PUBLISH_VERSION, unless_erased(erased_owners, on_publish)),
        Binding(PUBLISHER_MOVE_CHANNEL, unless_erased(erased_owners, on_move)),
        Binding(PUBLISHER_IMPORT_AGENT_VERSIONS, unless_erased(erased_owners, on_import)),
        # Also the projection: one in flight finishes writing the bucket before an erasure
        # drops the keys, and none writes them back after it.
        Binding(PUBLISHER_READ_MODEL, unless_erased(erased_owners, on_own_event)),
        Binding(PUBLISHER_GATEWAY_EVENTS, on_gateway_event),
        Binding(PUBLISHER_ERASE_VERSIONS, on_erase),
        QueryBinding(LIST_VERSIONS, query(handlers.answer_list_versions)),
        QueryBinding(GET_VERSION, query(handlers.answer_get_version)),
        QueryBinding(GET_CHANNEL_HISTORY, query(handlers.answer_channel_history)),
    )


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        migrate_command(SERVICE, PublisherSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, PublisherSettings, metadata, bindings)
