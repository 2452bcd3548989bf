"""The floor the compile round trip is measured against: the same path, with the least work each step
allows in Python on this stack.

The path is the product's: an HTTP service stores the compilation and its command in one
transaction (an outbox), publishes the command to JetStream once committed and deletes the outbox
row; a worker stores the compiled result, its inbox entry and its event in one transaction,
publishes the event the same way and acks; the HTTP service records the event (inbox and state in
one transaction, with a `NOTIFY` so that any replica's waiting request wakes) and a `GET ?wait=`
answers. At-least-once all along, as in the product. The least work: raw psycopg in autocommit on
a pool, each transaction one statement (a CTE), the spec compiled by the product's own pure
compiler, JSON by hand; no authentication, validation, tracing, metrics, logs or dead letters.

Roles: `uvicorn bench.compile_floor:app` (the HTTP service) and `python -m bench.compile_floor`
(the worker), both with FLOOR_DATABASE_URL (libpq form), FLOOR_NATS_URL and FLOOR_ROOT in the
environment; `provision()` creates their tables and streams first. Run by `bench.compile_roundtrip`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import nats
import psycopg
import uvloop
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StorageType, StreamConfig
from psycopg_pool import AsyncConnectionPool

from compiler.domain import compile_spec, parse, spec_hash
from runtime.broker import DUPLICATE_WINDOW_SECONDS

TABLES = """
CREATE SCHEMA floor;
CREATE TABLE floor.agents (id uuid PRIMARY KEY, blocks jsonb NOT NULL DEFAULT '{}');
CREATE TABLE floor.compilations (
    id uuid PRIMARY KEY, agent_id uuid NOT NULL, status text NOT NULL, instructions text);
CREATE TABLE floor.outbox (id uuid PRIMARY KEY, subject text NOT NULL, payload bytea NOT NULL);
CREATE TABLE floor.inbox (id uuid PRIMARY KEY);
CREATE TABLE floor.compiled (id uuid PRIMARY KEY, agent_id uuid NOT NULL, instructions text);
CREATE TABLE floor.compiler_outbox (
    id uuid PRIMARY KEY, subject text NOT NULL, payload bytea NOT NULL);
CREATE TABLE floor.compiler_inbox (id uuid PRIMARY KEY);
"""
DONE = "floor_compilation_done"
CONCURRENCY = 8  # messages in flight per consumer, as the product's consumers


async def provision(database_url: str, nats_url: str, root: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(TABLES)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for stream, durable in (("commands", "compiler"), ("events", "gateway")):
        name = f"{root.upper()}_{stream.upper()}"
        await js.add_stream(
            StreamConfig(
                name=name,
                subjects=[f"{root}.{stream}.>"],
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
        )
        await js.add_consumer(name, ConsumerConfig(durable_name=durable, ack_wait=30))
    await nc.close()


def _env() -> tuple[str, str, str]:
    return os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_NATS_URL"], os.environ["FLOOR_ROOT"]


async def _consume(
    js: JetStreamContext,
    durable: str,
    stream: str,
    handle: Callable[[Msg], Coroutine[Any, Any, None]],
) -> None:
    """Fetch one message at a time with up to CONCURRENCY handled at once, as the product does."""
    sub = await js.pull_subscribe_bind(durable, stream=stream)
    slots = asyncio.Semaphore(CONCURRENCY)
    tasks: set[asyncio.Task[None]] = set()
    while True:
        await slots.acquire()
        try:
            msgs = await sub.fetch(1, timeout=1.0)
        except TimeoutError:
            slots.release()
            continue
        task = asyncio.create_task(handle(msgs[0]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(lambda _t: slots.release())


async def _publish_and_forget(
    pool: AsyncConnectionPool[Any],
    js: JetStreamContext,
    outbox: str,
    message_id: uuid.UUID,
    subject: str,
    payload: bytes,
) -> None:
    """The relay, from memory: publish the committed row, then delete it. A crash before the
    delete would leave the row for the relay's poll (not written here: it costs nothing per
    message), and its second publish is deduplicated by the `Nats-Msg-Id`."""
    await js.publish(subject, payload, headers={"Nats-Msg-Id": str(message_id)})
    async with pool.connection() as conn:
        await conn.execute(f"DELETE FROM floor.{outbox} WHERE id = %s", (message_id,))


# --- The HTTP service ---------------------------------------------------------------------------

_state: dict[str, Any] = {}
_waiters: dict[str, set[asyncio.Event]] = {}


async def _listen(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"LISTEN {DONE}")
        async for notice in conn.notifies():
            for event in _waiters.get(notice.payload, ()):
                event.set()


async def _record_event(msg: Msg) -> None:
    event = json.loads(msg.data)
    async with _state["pool"].connection() as conn:
        await conn.execute(
            "WITH claimed AS (INSERT INTO floor.inbox VALUES (%s) ON CONFLICT DO NOTHING "
            "RETURNING id), done AS (UPDATE floor.compilations SET status = 'succeeded', "
            "instructions = %s WHERE id = %s AND EXISTS (SELECT FROM claimed) RETURNING id) "
            f"SELECT pg_notify('{DONE}', id::text) FROM done",
            (event["event_id"], event["instructions"], event["compilation_id"]),
        )
    await msg.ack()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    database_url, nats_url, root = _env()
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database_url, min_size=10, max_size=10, kwargs={"autocommit": True}, open=False
    )
    await pool.open(wait=True)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    _state.update(pool=pool, js=js, root=root)
    background = [
        asyncio.create_task(_listen(database_url)),
        asyncio.create_task(_consume(js, "gateway", f"{root.upper()}_EVENTS", _record_event)),
    ]
    yield
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await nc.close()
    await pool.close()


app = FastAPI(lifespan=lifespan)
_relaying: set[asyncio.Task[None]] = set()


@app.post("/api/v1/agents")
async def create_agent() -> JSONResponse:
    agent_id = uuid.uuid4()
    async with _state["pool"].connection() as conn:
        await conn.execute("INSERT INTO floor.agents (id) VALUES (%s)", (agent_id,))
    return JSONResponse({"id": str(agent_id)}, status_code=201)


@app.put("/api/v1/agents/{agent_id}/spec")
async def put_spec(agent_id: uuid.UUID, body: dict[str, Any]) -> dict[str, str]:
    async with _state["pool"].connection() as conn:
        await conn.execute(
            "UPDATE floor.agents SET blocks = %s WHERE id = %s",
            (json.dumps(body["blocks"]), agent_id),
        )
    return {"id": str(agent_id)}


@app.post("/api/v1/agents/{agent_id}/compilations")
async def compile_agent(agent_id: uuid.UUID) -> JSONResponse:
    compilation_id = uuid.uuid4()
    async with _state["pool"].connection() as conn:
        found = await (
            await conn.execute("SELECT blocks FROM floor.agents WHERE id = %s", (agent_id,))
        ).fetchone()
        if found is None:
            raise HTTPException(404)
        command = {
            "compilation_id": str(compilation_id),
            "agent_id": str(agent_id),
            "blocks": found[0],
        }
        subject = f"{_state['root']}.commands.compile"
        payload = json.dumps(command).encode()
        await conn.execute(
            "WITH c AS (INSERT INTO floor.compilations VALUES (%s, %s, 'pending') RETURNING id) "
            "INSERT INTO floor.outbox SELECT id, %s, %s FROM c",
            (compilation_id, agent_id, subject, payload),
        )
    task = asyncio.create_task(
        _publish_and_forget(
            _state["pool"], _state["js"], "outbox", compilation_id, subject, payload
        )
    )
    _relaying.add(task)
    task.add_done_callback(_relaying.discard)
    return JSONResponse({"id": str(compilation_id)}, status_code=202)


@app.get("/api/v1/agents/{agent_id}/compilations/{compilation_id}")
async def compilation(agent_id: uuid.UUID, compilation_id: uuid.UUID, wait: float = 0) -> Any:
    woken = asyncio.Event()
    key = str(compilation_id)
    _waiters.setdefault(key, set()).add(woken)  # before the read, so no notice is missed
    try:
        for attempt in range(2):
            async with _state["pool"].connection() as conn:
                found = await (
                    await conn.execute(
                        "SELECT status, instructions FROM floor.compilations "
                        "WHERE id = %s AND agent_id = %s",
                        (compilation_id, agent_id),
                    )
                ).fetchone()
            if found is None:
                raise HTTPException(404)
            if found[0] != "pending" or attempt or not wait:
                break
            try:
                await asyncio.wait_for(woken.wait(), wait)
            except TimeoutError:
                break
    finally:
        _waiters[key].discard(woken)
        if not _waiters[key]:
            del _waiters[key]
    return {"id": key, "status": found[0], "instructions": found[1]}


# --- The worker ---------------------------------------------------------------------------------


async def _compile(pool: AsyncConnectionPool[Any], js: JetStreamContext, root: str) -> None:
    async def handle(msg: Msg) -> None:
        command = json.loads(msg.data)
        blocks = command["blocks"]
        instructions = compile_spec(parse(blocks), spec_hash(blocks)).instructions
        compilation_id = command["compilation_id"]
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, compilation_id)  # the same on a redelivery
        subject = f"{root}.events.compiled"
        payload = json.dumps(
            {
                "event_id": str(event_id),
                "compilation_id": compilation_id,
                "instructions": instructions,
            }
        ).encode()
        async with pool.connection() as conn:
            stored = await (
                await conn.execute(
                    "WITH claimed AS (INSERT INTO floor.compiler_inbox VALUES (%s) ON CONFLICT "
                    "DO NOTHING RETURNING id), stored AS (INSERT INTO floor.compiled "
                    "SELECT id, %s, %s FROM claimed RETURNING id) "
                    "INSERT INTO floor.compiler_outbox SELECT %s, %s, %s FROM stored RETURNING id",
                    (
                        compilation_id,
                        command["agent_id"],
                        instructions,
                        event_id,
                        subject,
                        payload,
                    ),
                )
            ).fetchone()
        if stored is not None:  # first time: a redelivery found its inbox entry and emits nothing
            await _publish_and_forget(pool, js, "compiler_outbox", event_id, subject, payload)
        await msg.ack()

    await _consume(js, "compiler", f"{root.upper()}_COMMANDS", handle)


async def _work() -> None:
    database_url, nats_url, root = _env()
    async with AsyncConnectionPool(
        database_url, min_size=10, max_size=10, kwargs={"autocommit": True}
    ) as pool:
        nc = await nats.connect(nats_url)
        worker = asyncio.create_task(_compile(pool, nc.jetstream(), root))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await nc.close()


if __name__ == "__main__":
    uvloop.run(_work())
