"""The compiler's consumer against real PostgreSQL and NATS JetStream, in this process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext

from compiler.models import compilations, metadata
from compiler.settings import CompilerSettings
from compiler.worker import SERVICE, bindings
from contracts import subjects
from contracts.compiler import CompileAgentV1
from contracts.registry import envelope_for
from runtime.service import Binding, Service
from tests.support import infra
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.integration


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


@pytest.fixture
async def compiler(postgres_url: str, nats_url: str) -> AsyncIterator[RunningCompiler]:
    """The compiler's consumer and relay on a database and subject root of their own."""
    root = infra.new_root()
    with infra.fresh_database(postgres_url) as url:
        infra.migrate_all(url)
        settings = CompilerSettings(
            database_url=url,
            nats_url=nats_url,
            nats_subject_root=root,
            ack_wait_seconds=2,
            max_deliver=3,
        )
        service = await Service.start(SERVICE, settings, metadata)
        bound = [b for b in bindings(service) if isinstance(b, Binding)]
        await service.provision(bound)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(service.consumer(bound[0]).run(stop)),
            asyncio.create_task(service.relay.run(stop)),
        ]
        try:
            yield RunningCompiler(service, root, service.js)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await service.close()
            await asyncio.to_thread(infra.delete_streams, nats_url, root)


def compile_command(**blocks: Any) -> CompileAgentV1:
    return CompileAgentV1(
        compilation_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        spec_revision=1,
        blocks=blocks or {"persona": {"role": "tester"}},
    )


async def count_in_stream(js: JetStreamContext, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def test_same_command_twice_and_after_the_dedup_window_compiles_once(
    compiler: RunningCompiler,
) -> None:
    command = compile_command()
    envelope = envelope_for(
        command, source="test", correlation_id=uuid.uuid4(), owner_id=uuid.uuid4()
    )
    payload = envelope.model_dump_json().encode()
    subject = compiler.subject(subjects.COMPILE_AGENT)

    first = await compiler.js.publish(subject, payload, headers={"Nats-Msg-Id": str(envelope.id)})
    again = await compiler.js.publish(subject, payload, headers={"Nats-Msg-Id": str(envelope.id)})
    # Past the window JetStream no longer remembers the id: the same envelope arrives as a new message.
    late = await compiler.js.publish(
        subject, payload, headers={"Nats-Msg-Id": f"{envelope.id}-late"}
    )
    assert (bool(first.duplicate), again.duplicate, bool(late.duplicate)) == (False, True, False)

    stream = subjects.COMPILER_STREAM.full_name(compiler.root)
    events = compiler.subject(subjects.AGENT_COMPILED)
    await eventually_async(lambda: count_in_stream(compiler.js, stream, events), what="the event")
    processed = compiler.service.metadata.tables["compiler.processed_messages"]
    # Wait until both deliveries were handled, then check nothing was applied twice.
    await eventually_async(
        lambda: _idle(compiler.js, stream, "compiler--compile_agent"),
        what="both deliveries handled",
    )
    assert await compiler.scalar(sa.select(sa.func.count()).select_from(processed)) == 1
    assert (
        await compiler.scalar(
            sa.select(sa.func.count()).where(compilations.c.id == command.compilation_id)
        )
        == 1
    )
    assert await count_in_stream(compiler.js, stream, events) == 1


async def _idle(js: JetStreamContext, stream: str, durable: str) -> bool:
    """Whether the durable has delivered and had acknowledged every message in its stream."""
    info = await js.consumer_info(stream, durable)
    return bool(info.num_pending + info.num_ack_pending == 0 and info.delivered.stream_seq >= 2)


async def test_malformed_message_is_dead_lettered_and_good_ones_keep_flowing(
    compiler: RunningCompiler,
) -> None:
    subject = compiler.subject(subjects.COMPILE_AGENT)
    await compiler.js.publish(subject, b"{not json", headers={"Nats-Msg-Id": "poison-1"})
    good = compile_command()
    envelope = envelope_for(good, source="test", correlation_id=uuid.uuid4(), owner_id=None)
    await compiler.js.publish(subject, envelope.model_dump_json().encode())

    async def compiled() -> bool:
        found = await compiler.scalar(
            sa.select(compilations.c.status).where(compilations.c.id == good.compilation_id)
        )
        return bool(found == "succeeded")

    await eventually_async(compiled, what="the good command compiled")
    dead_letters = subjects.DEAD_LETTER.full_name(compiler.root)
    dead = await compiler.js.get_last_msg(
        dead_letters, subjects.DEAD_LETTER.subject_for(subject, compiler.root)
    )
    assert dead.data == b"{not json"
    assert dead.headers is not None
    assert dead.headers["Studio-Dead-Letter-Reason"].startswith(
        "undecodable: invalid compiler.cmd.compile_agent.v1"
    )
    assert dead.headers["Studio-Consumer"] == "compiler--compile_agent"
    assert dead.headers["Studio-Original-Subject"] == subject
