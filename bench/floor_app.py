"""The floor the gateway's agent list is measured against: a bare FastAPI app whose one endpoint
does one primary-key SELECT through SQLAlchemy Core async + psycopg on a pool of 10 (no overflow), and returns
the row as JSON. No auth, middleware, tracing or metrics: what any endpoint that reads the database
costs at least on this machine.

Run by `bench.gateway_list` as `uvicorn bench.floor_app:app` (uvloop and httptools, as uvicorn
picks them), with `FLOOR_DATABASE_URL` and `FLOOR_AGENT_ID` in the environment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.models import agents

AGENT_ID = UUID(os.environ.get("FLOOR_AGENT_ID", "00000000-0000-0000-0000-000000000000"))
_engine: list[AsyncEngine] = []


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    engine = create_async_engine(os.environ["FLOOR_DATABASE_URL"], pool_size=10, max_overflow=0)
    _engine.append(engine)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/row")
async def row() -> dict[str, Any]:
    async with _engine[0].connect() as conn:
        found = (await conn.execute(sa.select(agents).where(agents.c.id == AGENT_ID))).one_or_none()
    if found is None:
        raise HTTPException(404)
    return dict(found._mapping)
