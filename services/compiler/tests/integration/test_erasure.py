"""A user's erasure in the compiler, against real PostgreSQL and NATS JetStream: the query lists
what it holds of an agent (for the export); the command deletes the agents' compilations and
answers with its event; a compile of that user's arriving
afterwards (sent before the erasure, on another durable) writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext
from pydantic import BaseModel

from compiler import handlers
from compiler.models import compilations, erased_owners, metadata
from compiler.repository import CompilationRepository
from compiler.settings import CompilerSettings
from compiler.worker import SERVICE, bindings
from contracts import subjects
from contracts.compiler import CompileAgentV1, ListCompilationsV1
from contracts.privacy import EraseCompilationsV1
from contracts.registry import envelope_for, subject_of
from runtime.service import Binding, Service
from tests.support import infra
from tests.support.waiting import eventually_async


@dataclass
class RunningCompiler:
    service: Service
    root: str
    js: JetStreamContext

    def subject(self, s: subjects.Subject) -> str:
        return s.full(self.root)

    async def scalar(self, query: Any) -> Any:
        async with self.service.sessionmaker() as session:
            return await session.scalar(query)


def compile_command() -> CompileAgentV1:
    return CompileAgentV1(
        compilation_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        spec_revision=1,
        blocks={"persona": {"role": "tester"}},
    )


async def count_in_stream(js: JetStreamContext, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


pytestmark = pytest.mark.integration


@pytest.fixture
async def compiler(postgres_url: str, nats_url: str) -> AsyncIterator[RunningCompiler]:
    """Every consumer of the compiler and its relay, on a database and subject root of their own."""
    root = infra.new_root()
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        settings = CompilerSettings(database_url=url, nats_url=nats_url, nats_subject_root=root)
        service = await Service.start(SERVICE, settings, metadata)
        bound = [b for b in bindings(service) if isinstance(b, Binding)]
        await service.provision(bound)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(service.consumer(b).run(stop)) for b in bound]
        tasks.append(asyncio.create_task(service.relay.run(stop)))
        try:
            yield RunningCompiler(service, root, service.js)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await service.close()
            await asyncio.to_thread(infra.delete_streams, nats_url, root)


async def send(compiler: RunningCompiler, data: BaseModel, owner_id: uuid.UUID) -> None:
    envelope = envelope_for(data, source="test", correlation_id=uuid.uuid4(), owner_id=owner_id)
    await compiler.js.publish(
        compiler.subject(subject_of(data)),
        envelope.model_dump_json().encode(),
        headers={"Nats-Msg-Id": str(envelope.id)},
    )


async def stored(compiler: RunningCompiler, compilation_id: uuid.UUID) -> bool:
    found = await compiler.scalar(
        sa.select(sa.func.count()).where(compilations.c.id == compilation_id)
    )
    return bool(found)


async def listed(compiler: RunningCompiler, agent_id: uuid.UUID) -> list[uuid.UUID]:
    """Every compilation the compiler's query lists for the agent, one page at a time."""
    found: list[uuid.UUID] = []
    after = None
    while True:
        async with compiler.service.reader() as session:
            page = await handlers.answer_list_compilations(
                ListCompilationsV1(agent_id=agent_id, after=after, limit=1),
                compilations=CompilationRepository(session),
            )
        found += [c.compilation_id for c in page.items]
        if page.next_after is None:
            return found
        after = page.next_after


async def test_an_erasure_deletes_the_compilations_and_a_late_compile_writes_nothing(
    compiler: RunningCompiler,
) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    before = compile_command()
    await send(compiler, before, user)
    await eventually_async(lambda: stored(compiler, before.compilation_id), what="compiled")

    second = compile_command().model_copy(update={"agent_id": before.agent_id})
    await send(compiler, second, user)
    await eventually_async(lambda: stored(compiler, second.compilation_id), what="compiled")
    assert await listed(compiler, before.agent_id) == sorted(
        [before.compilation_id, second.compilation_id]
    )

    erase = EraseCompilationsV1(
        erasure_id=uuid.uuid4(), user_id=user, agent_ids=[before.agent_id], part=0, parts=1
    )
    await send(compiler, erase, user)
    stream = subjects.COMPILER_STREAM.full_name(compiler.root)
    erased = compiler.subject(subjects.COMPILATIONS_ERASED)
    await eventually_async(lambda: count_in_stream(compiler.js, stream, erased), what="erased")

    assert not await stored(compiler, before.compilation_id)
    assert await listed(compiler, before.agent_id) == []
    assert await compiler.scalar(sa.select(erased_owners.c.owner_id)) == user
    late, others = compile_command(), compile_command()
    late = late.model_copy(update={"agent_id": before.agent_id})
    await send(compiler, late, user)
    await send(compiler, others, other)
    await eventually_async(lambda: stored(compiler, others.compilation_id), what="compiled")

    async def idle() -> bool:
        info = await compiler.js.consumer_info(stream, subjects.COMPILER_COMPILE_AGENT.name)
        return bool(info.num_pending + info.num_ack_pending == 0)

    await eventually_async(idle, what="every compile handled")
    assert not await stored(compiler, late.compilation_id)
