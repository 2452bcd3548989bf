"""The gateway's entrypoint: the FastAPI app over the shared service lifecycle."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.envelope import Envelope
from contracts.publishing import published_bucket
from contracts.subjects import (
    GATEWAY_COMPILER_EVENTS,
    GATEWAY_DEAD_LETTERS,
    GATEWAY_PUBLISHER_EVENTS,
    GATEWAY_TEST_RUNNER_EVENTS,
)
from gateway import dead_letters
from gateway.admission import Admission
from gateway.agents import routes as agents
from gateway.audit import routes as audit
from gateway.direct_pool import create_direct_pool
from gateway.errors import API_ERRORS, ApiError
from gateway.identity import routes as identity
from gateway.identity.mail import MailRelay, smtp_sender
from gateway.middleware import RequestContextMiddleware
from gateway.models import SCHEMA, metadata
from gateway.notifications import Notifications, TokenCache
from gateway.privacy import handlers as privacy_handlers
from gateway.privacy import routes as privacy
from gateway.privacy.repository import ErasureParts, ErasureRepository
from gateway.publishing import handlers as publishing_handlers
from gateway.publishing import openai_compat
from gateway.publishing import routes as publishing
from gateway.publishing.read_model import PublishedCache
from gateway.publishing.repository import PublishRepository
from gateway.quotas.service import Quotas
from gateway.ratelimit import Limiter, RateLimitedError, RateLimitMiddleware, too_many_requests
from gateway.security import (
    CONTENT_SECURITY_POLICY,
    SecurityHeadersMiddleware,
    add_docs,
    security_headers,
)
from gateway.settings import SERVICE, GatewaySettings
from gateway.specs import handlers as specs_handlers
from gateway.specs import routes as specs
from gateway.specs.repository import CompilationOutcomes
from gateway.testing import handlers as testing_handlers
from gateway.testing import routes as testing
from gateway.testing.repository import TestRunRepository
from gateway.users import routes as users
from gateway.web import dist_dir, mount_web_ui
from runtime.ai import provider_from_settings
from runtime.cli import migrate_command
from runtime.db import DirectUnit
from runtime.dead_letter_consumer import DeadLetter, DeadLetterBinding
from runtime.health import health_routes
from runtime.service import Binding, Service, serve
from runtime.settings import CommonSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def on_compiler_event(envelope: Envelope[Any], unit: DirectUnit) -> list[BaseModel]:
    # The hot path's consumer: a direct group commit (Binding(..., direct=True), runtime.staged).
    if privacy_handlers.is_erasure_event(envelope.data):
        return await on_erased(envelope, unit)
    return await specs_handlers.handle_compiler_event(
        envelope.data, compilations=CompilationOutcomes(unit)
    )


async def on_test_runner_event(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
    if privacy_handlers.is_erasure_event(envelope.data):
        return await on_erased(envelope, session)
    return await testing_handlers.handle_test_runner_event(
        envelope.data, runs=TestRunRepository(session)
    )


async def on_publisher_event(envelope: Envelope[Any], session: AsyncSession) -> list[BaseModel]:
    if privacy_handlers.is_erasure_event(envelope.data):
        return await on_erased(envelope, session)
    return await publishing_handlers.handle_publisher_event(
        envelope.data, requests=PublishRepository(session)
    )


async def on_erased(envelope: Envelope[Any], unit: AsyncSession | DirectUnit) -> list[BaseModel]:
    return await privacy_handlers.handle_data_erased(envelope.data, parts=ErasureParts(unit))


async def on_dead_letter(letter: DeadLetter, session: AsyncSession) -> list[BaseModel]:
    return await dead_letters.handle_dead_letter(
        letter,
        compilations=CompilationOutcomes(session),
        runs=TestRunRepository(session),
        requests=PublishRepository(session),
        erasures=ErasureRepository(session),
    )


BINDINGS = (
    Binding(GATEWAY_COMPILER_EVENTS, on_compiler_event, grouped=True, direct=True),
    Binding(GATEWAY_TEST_RUNNER_EVENTS, on_test_runner_event),
    Binding(GATEWAY_PUBLISHER_EVENTS, on_publisher_event),
    DeadLetterBinding(GATEWAY_DEAD_LETTERS, on_dead_letter),
)


def create_app(service: Service) -> FastAPI:
    settings = service.settings
    if not isinstance(settings, GatewaySettings):
        raise TypeError("the gateway app needs GatewaySettings")
    tokens = TokenCache()
    notifications = Notifications(settings.database_url, tokens)
    published = PublishedCache(service.js, published_bucket(settings.nats_subject_root))
    provider = provider_from_settings(settings)
    service.closers.append(provider.aclose)
    # Without SMTP_URL (allowed in development only) sign-in links are only logged.
    mail = (
        MailRelay(service.write, smtp_sender(settings), settings.mail_from)
        if settings.smtp_url is not None
        else None
    )
    limiter = Limiter(settings)
    direct_pool = create_direct_pool(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await direct_pool.open()
        notifications.start()
        tasks = [asyncio.create_task(published.run())]
        if mail is not None:
            tasks.append(asyncio.create_task(mail.run()))
        yield
        for task in tasks:
            task.cancel()
        await notifications.stop()
        await direct_pool.close()

    app = FastAPI(
        title="Agent Studio API",
        version="0.1.0",
        description="Write, compile, test and publish AI agents.",
        lifespan=lifespan,
        # /docs is served by security.add_docs with a policy of its own; ReDoc needs inline
        # styles, which the Content-Security-Policy forbids.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        # RequestContextMiddleware makes the one server span (with the correlation id); FastAPI's
        # own would start a second root span and split a request's trace in two.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.notifications = notifications
    app.state.published = published
    app.state.provider = provider
    app.state.mail = mail
    app.state.limiter = limiter
    app.state.admission = Admission(settings.database_pool_size)
    app.state.direct_pool = direct_pool
    app.state.quotas = Quotas.from_settings(settings)
    include_routes(app)
    app.router.routes.extend(health_routes(lambda: (service.engine, service.nc)))
    mount_web_ui(app, dist_dir(settings.web_dist_dir))
    _add_error_handlers(app)
    _add_middleware(app, settings, limiter, tokens, notifications)
    return app


# FastAPI tries the routers in this order, every route of each until one matches in full (path
# and method; about 2 µs a route on the 2-core benchmark machines), so the hot paths come first.
# No request matches routes of two routers in full, so the order changes no answer
# (tests/unit/test_router_order.py).
ROUTERS = (
    agents.router,
    specs.compilations,
    publishing.router,
    openai_compat.router,
    testing.router,
    identity.router,
    identity.callback,
    users.router,
    audit.router,
    specs.router,
    specs.coach,
    testing.cases,
    publishing.imports,
    privacy.router,
)


def include_routes(app: FastAPI) -> None:
    """Every route of the API, each declaring the error statuses any route can answer."""
    for router in ROUTERS:
        app.include_router(router, responses=API_ERRORS)


def _add_middleware(
    app: FastAPI,
    settings: GatewaySettings,
    limiter: Limiter,
    tokens: TokenCache,
    notifications: Notifications,
) -> None:
    """The last added runs first: security headers wrap everything, 429s and 413s included."""
    hsts = settings.studio_env != "development"
    headers = security_headers(CONTENT_SECURITY_POLICY, hsts=hsts)
    docs = add_docs(app, hsts=hsts) if settings.docs_enabled else headers
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware, limiter=limiter, tokens=tokens, notifications=notifications
        )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "if-match", "x-request-id"],
            expose_headers=["etag", "location", "x-request-id", "retry-after", "ratelimit"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware, headers=headers, docs=docs)


def _add_error_handlers(app: FastAPI) -> None:
    def body(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": code, "message": message, **extra}}, status_code=status
        )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return body(exc.status_code, exc.code, exc.message, **exc.details)

    @app.exception_handler(RateLimitedError)
    async def rate_limited(_request: Request, exc: RateLimitedError) -> JSONResponse:
        return too_many_requests(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "message": err["msg"]}
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems[:5])
        return body(422, "validation_error", message, problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            exc.status_code, "http_error"
        )
        return body(exc.status_code, code, str(exc.detail))


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        # Migrating needs the database alone, not the serving settings (mail, public address).
        migrate_command(SERVICE, CommonSettings, MIGRATIONS, SCHEMA)
        return
    serve(SERVICE, GatewaySettings, metadata, BINDINGS, create_app)
