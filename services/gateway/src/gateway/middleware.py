"""Per-request context: correlation id, trace span, structured-log binding and HTTP metrics."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import structlog
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.observability import tracer

http_requests = Counter("http_requests", "HTTP requests answered.", ["method", "route", "status"])
http_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")


class RequestContextMiddleware:
    """Each request gets a correlation id (its `X-Request-Id`, or a new one, echoed back) and a server
    span that continues the caller's W3C trace; the commands it emits carry both onward."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        correlation_id = _parse_uuid(headers.get(b"x-request-id", b"").decode("latin-1")) or uuid4()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        carrier = {k.decode(): headers[k].decode("latin-1") for k in _TRACE_HEADERS if k in headers}
        method = scope["method"]
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (b"x-request-id", str(correlation_id).encode())
                )
            await send(message)

        with (
            tracer().start_as_current_span(
                method, context=propagate.extract(carrier), kind=SpanKind.SERVER
            ) as span,
            structlog.contextvars.bound_contextvars(correlation_id=str(correlation_id)),
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status,
                        "studio.correlation_id": str(correlation_id),
                    }
                )
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                http_requests.labels(method, route, str(status)).inc()
                http_duration.labels(method, route).observe(time.perf_counter() - started)


def _parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
