"""A worker service started in this process, on a database and subject root of its own, for the
services' integration tests: its consumers and relay run as tasks; messages go in over JetStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from contracts import registry, subjects
from contracts.registry import envelope_for
from runtime.queries import QueryBinding
from runtime.service import AnyBinding, Service
from runtime.settings import CommonSettings
from tests.support import infra

T = TypeVar("T")


@dataclass
class RunningService:
    service: Service
    root: str
    queries: dict[subjects.Subject, QueryBinding]

    async def send(
        self, subject: subjects.Subject, data: BaseModel, owner_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """Publish `data` in an envelope, as its producer would; returns the envelope's id."""
        envelope = envelope_for(data, source="test", correlation_id=uuid.uuid4(), owner_id=owner_id)
        await self.service.js.publish(
            subject.full(self.root),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
        return envelope.id

    async def ask(
        self, subject: subjects.Subject, data: BaseModel, owner_id: uuid.UUID | None = None
    ) -> BaseModel:
        """The service's answer to a query, through its binding (no request over NATS)."""
        envelope = envelope_for(data, source="test", correlation_id=uuid.uuid4(), owner_id=owner_id)
        return await self.queries[subject].handler(envelope)

    async def scalar(self, query: Any) -> Any:
        async with self.service.reader() as session:
            return await session.scalar(query)

    async def count(self, table: sa.Table, *where: Any) -> int:
        found = await self.scalar(sa.select(sa.func.count()).select_from(table).where(*where))
        return int(found)

    async def events(self, stream: subjects.Stream, subject: subjects.Subject) -> list[Any]:
        """The data of every message on `subject` in `stream` so far, oldest first."""
        sub = await self.service.js.pull_subscribe(
            subject.full(self.root), stream=stream.full_name(self.root)
        )
        found: list[Any] = []
        try:
            while True:
                try:
                    msgs = await sub.fetch(100, timeout=0.5)
                except TimeoutError:
                    return found
                for msg in msgs:
                    found.append(registry.decode(subject.relative, msg.data).data)
                    await msg.ack()
        finally:
            await sub.unsubscribe()


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """`check()` once it is truthy, or its last value after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running_service(
    name: str,
    settings_of: Callable[[str, str], CommonSettings],
    metadata: sa.MetaData,
    bindings: Callable[[Service], Sequence[AnyBinding]],
    *,
    postgres_url: str,
    nats_url: str,
) -> AsyncIterator[RunningService]:
    """The service's consumers and relay on a fresh database and subject root; afterwards its
    streams and key-value buckets are deleted. `settings_of(database_url, root)` builds its
    settings."""
    root = f"t{uuid.uuid4().hex[:10]}"
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        service = await Service.start(name, settings_of(url, root), metadata)
        try:
            resolved = bindings(service)
            durable = [b for b in resolved if not isinstance(b, QueryBinding)]
            await service.provision(durable)
            stop = asyncio.Event()
            tasks = [asyncio.create_task(service.consumer(b).run(stop)) for b in durable]
            tasks.append(asyncio.create_task(service.relay.run(stop)))
            try:
                queries = {b.subject: b for b in resolved if isinstance(b, QueryBinding)}
                yield RunningService(service, root, queries)
            finally:
                stop.set()
                await asyncio.gather(*tasks)
        finally:
            await service.close()
            await asyncio.to_thread(infra.delete_streams, nats_url, root)
