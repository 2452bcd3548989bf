"""A gateway process that also serves the floor's route (`bench/floor_app.py`'s `GET /row`) as its
first route: what the one-SELECT floor costs behind the gateway's middlewares (request id, trace
span, metrics, security headers, its error handlers) in a process running everything the
gateway runs (its consumers, relay, notifications). It splits the list's distance from the floor
in two: the gateway's per-request machinery, which any route of it pays, and the list's own work.

Run by `bench.gateway_list` with the gateway's environment, `FLOOR_DATABASE_URL` and
`FLOOR_AGENT_ID`; `python -m bench.floor_in_gateway`.
"""

from __future__ import annotations

import os

from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp

from bench import floor_app
from gateway.app import BINDINGS, create_app
from gateway.models import metadata
from gateway.settings import SERVICE, GatewaySettings
from runtime.service import Service, serve


def create_app_with_floor(service: Service) -> ASGIApp:
    app = create_app(service)
    # The floor's own engine, as in its own process (its lifespan does not run here).
    url = os.environ["FLOOR_DATABASE_URL"]
    floor_app._engine.append(create_async_engine(url, pool_size=10, max_overflow=0))
    # First of the app's routes, as it is the first (and only) route of the floor's own app.
    app.router.routes.insert(0, APIRoute("/row", floor_app.row, methods=["GET"]))
    return app


if __name__ == "__main__":
    serve(SERVICE, GatewaySettings, metadata, BINDINGS, create_app_with_floor)
