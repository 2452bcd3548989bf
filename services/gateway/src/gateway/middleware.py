"""Per-request context: correlation id, trace span, structured-log binding and HTTP metrics, and
the one answer to a failure nobody expected: a JSON 500 naming the request, its stack trace in the
log and never in the body."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import structlog
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.admission import release_admitted
from runtime.observability import tracer

http_requests = Counter("http_requests", "HTTP requests answered.", ["method", "route", "status"])
http_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")
_LENGTH_DIGITS_MAX = 18  # a Content-Length longer than this is past any limit (and int()'s)
log = structlog.get_logger()


class RequestTooLargeError(HTTPException):
    """Raised while the body is read; FastAPI passes HTTP exceptions on to the error handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class RequestContextMiddleware:
    """Each request gets a correlation id (its `X-Request-Id`, or a new one, echoed back) and a server
    span that continues the caller's W3C trace; the commands it emits carry both onward."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and (
            len(declared) > _LENGTH_DIGITS_MAX or int(declared) > self.max_body_bytes
        ):
            # Refused before a byte of it is read.
            await JSONResponse(
                {
                    "error": {
                        "code": "request_too_large",
                        "message": f"the request body is {declared.decode()} bytes; the limit is {self.max_body_bytes}",
                    }
                },
                status_code=413,
            )(scope, receive, send)
            return
        correlation_id = _parse_uuid(headers.get(b"x-request-id", b"").decode("latin-1")) or uuid4()
        request_id = str(correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        carrier = {k.decode(): headers[k].decode("latin-1") for k in _TRACE_HEADERS if k in headers}
        method = scope["method"]
        status = 500
        started_response = False
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:  # a body without a Content-Length
                    raise RequestTooLargeError(self.max_body_bytes)
            return message

        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        with (
            tracer().start_as_current_span(
                # Most requests carry no trace context: extracting from nothing costs ~1 %.
                method,
                context=propagate.extract(carrier) if carrier else None,
                kind=SpanKind.SERVER,
            ) as span,
            structlog.contextvars.bound_contextvars(correlation_id=request_id),
        ):
            try:
                await self.app(scope, receive_within_limit, send_with_id)
            except Exception:  # RecursionError included: nothing unexpected reaches the server
                log.exception("gateway.request.failed", method=method, path=scope["path"])
                if started_response:
                    raise  # part of the answer is out: only closing the connection says so
                await internal_error(correlation_id)(scope, receive, send_with_id)
            finally:
                release_admitted(scope)
                route = getattr(scope.get("route"), "path", "unmatched")
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status,
                        "studio.correlation_id": request_id,
                    }
                )
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                http_requests.labels(method, route, str(status)).inc()
                http_duration.labels(method, route).observe(time.perf_counter() - started)


def internal_error(correlation_id: UUID) -> JSONResponse:
    """What the caller learns of a failure on our side: that it happened, and which request."""
    return JSONResponse(
        {
            "error": {
                "code": "internal",
                "message": "something went wrong on our side; quote the request id if you report it",
                "request_id": str(correlation_id),
            }
        },
        status_code=500,
    )


def _parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
