"""Benchmark: where the agent list's CPU goes, inside one gateway process, and a compilation read's.

The gateway's app is built in this process (on a fresh database and subject root, as the other
benchmarks) and called as an ASGI app with no HTTP server in between. The request is
`bench.gateway_list`'s, `GET /api/v1/agents?limit=20` for a user with 50 agents; beside it, the
parts it is made of, each timed alone in CPU microseconds per call (`time.process_time` over
`--calls` calls, one after another; each round's figure, `--rounds` rounds):

  request                 the whole request through the app
  compilation             `GET …/compilations/{id}` of a succeeded compilation through the app,
                          the read a compile round trip ends with
  healthz                 `/healthz` through the same app: middlewares and routing, no dependency
  session                 a read session (`ReadTx`'s) taking its database connection and giving
                          it back, through SQLAlchemy's session and pool
  session, no autocommit  the same for a writing session: what the reads' autocommit costs a
                          checkout (set on the connection, reset when it goes back to the pool)
  pooled                  a connection of the direct pool (gateway/direct_pool.py) taken and given back
  page                    `pooled`, and on it the page read (prepared) and serialised
  select 1                a prepared `SELECT 1` on a bare psycopg connection: a round trip's floor

What the request costs past `healthz` and `page` is FastAPI's route machinery: solving its
dependencies (the admission slot, the token from the cache), reading its query parameters and
sending the response. The HTTP server's own share (uvicorn parsing and writing)
is not here: `bench.gateway_list` measures the whole over HTTP.

Run: `uv run python -m bench.gateway_parts [--calls 4000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from uuid import UUID

import psycopg
import uvloop
from fastapi import FastAPI

from bench.compile_roundtrip import SPEC
from bench.harness import machine, running_stack
from gateway import auth
from gateway.agents import service as agents
from gateway.app import create_app
from gateway.direct_pool import DirectPool
from gateway.models import metadata
from gateway.settings import GatewaySettings
from gateway.users.repository import UserRepository
from runtime import observability
from runtime.db import libpq_url
from runtime.service import Service
from runtime.settings import load_settings

AGENTS = 50
WARM_UP = 200


def request(app: FastAPI, path: str, query: str, token: str) -> Callable[[], Awaitable[None]]:
    """One call of `app` as uvicorn would make it for GET `path`; fails unless answered 200."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"GET {path} answered {message['status']}")

    async def call() -> None:
        await app(dict(scope, state={}), receive, send)

    return call


async def cpu_per_call(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    for _ in range(WARM_UP):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def measure(
    env: dict[str, str], token: str, compilation: str, calls: int, rounds: int
) -> None:
    settings = load_settings(GatewaySettings, "gateway", env)
    observability.setup("gateway", log_level="WARNING")
    service = await Service.start("gateway", settings, metadata)
    app = create_app(service)
    bare = await psycopg.AsyncConnection.connect(libpq_url(settings.database_url), autocommit=True)
    try:
        async with app.router.lifespan_context(app):
            async with asyncio.timeout(10):  # the token cache is used only while listening
                while not app.state.notifications.listening:
                    await asyncio.sleep(0.05)
            async with service.reader() as session:
                found = await UserRepository(session).get_live_token(auth.hash_token(token))
            assert found is not None
            user_id: UUID = found.user_id

            async def session_only() -> None:
                async with service.reader() as session:
                    await session.connection()

            async def writing_session_only() -> None:
                async with service.sessionmaker() as session:
                    await session.connection()

            pool: DirectPool = app.state.direct_pool

            async def pooled_only() -> None:
                async with pool.connection():
                    pass

            async def page() -> None:
                async with pool.connection() as connection:
                    await agents.list_agents(connection, user_id, 20, None)

            async def select_1() -> None:
                async with bare.cursor() as cursor:
                    await cursor.execute("SELECT 1", prepare=True)
                    await cursor.fetchall()

            parts = {
                "request": request(app, "/api/v1/agents", "limit=20", token),
                "compilation": request(app, compilation, "", token),
                "healthz": request(app, "/healthz", "", token),
                "session": session_only,
                "session, no autocommit": writing_session_only,
                "pooled": pooled_only,
                "page": page,
                "select 1": select_1,
            }
            print(f"CPU µs per call, {calls} calls one after another, {rounds} rounds:")
            for name, call in parts.items():
                figures = [await cpu_per_call(call, calls) for _ in range(rounds)]
                print(f"  {name:<22} " + "  ".join(f"{f:6.0f}" for f in figures))
    finally:
        await bare.close()
        await service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    limits = {"RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    print(f"machine: {machine()}")
    print(
        "conditions: the gateway's app in this process under uvloop, called as ASGI; local "
        "PostgreSQL and NATS; a gateway and a compiler process of the stack only seed the agents "
        "and a compilation"
    )
    with running_stack(("compiler", "gateway"), limits) as stack:
        token = stack.new_token()
        with stack.client(token) as client:
            for i in range(AGENTS):
                client.post("/api/v1/agents", json={"name": f"agent {i}"}).raise_for_status()
            agent = client.get("/api/v1/agents", params={"limit": 1}).json()["items"][0]["id"]
            client.put(f"/api/v1/agents/{agent}/spec", json={"blocks": SPEC}).raise_for_status()
            accepted = client.post(f"/api/v1/agents/{agent}/compilations").json()
            compilation = f"/api/v1/agents/{agent}/compilations/{accepted['id']}"
            if client.get(compilation, params={"wait": 10}).json()["status"] != "succeeded":
                raise RuntimeError("the seeded compilation did not succeed")
        env = stack.env("gateway", **limits)
        uvloop.run(measure(env, token, compilation, args.calls, args.rounds))


if __name__ == "__main__":
    main()
