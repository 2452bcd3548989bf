"""`/healthz` (liveness), `/readyz` (readiness: database and NATS) and `/metrics`, for every service.

Liveness never looks at dependencies, so a broker blip does not restart every pod; readiness does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import sqlalchemy as sa
from nats.aio.client import Client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route


async def readiness(engine: AsyncEngine, nc: Client) -> dict[str, str]:
    """Each dependency's state: "ok" or the reason it is not."""
    checks = {"nats": "ok" if nc.is_connected else "disconnected", "database": "ok"}
    try:
        async with asyncio.timeout(2.0), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    return checks


def health_routes(dependencies: Callable[[], tuple[AsyncEngine, Client] | None]) -> list[BaseRoute]:
    """Routes to mount on any Starlette or FastAPI app; `dependencies` gives (engine, nats) once started."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        deps = dependencies()
        if deps is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        checks = await readiness(*deps)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, include_in_schema=False),
        Route("/readyz", readyz, include_in_schema=False),
        Route("/metrics", metrics, include_in_schema=False),
    ]
