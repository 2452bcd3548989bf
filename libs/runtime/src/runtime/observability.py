"""Logs, metrics and traces, set up once per process by `setup()`.

Logs are JSON lines carrying `correlation_id` and `message_id` when a message is being handled.
Metric names are the same in every service; labels are from closed sets (never ids).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

MESSAGE_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)

messages_processed = Counter(
    "messages_processed",
    "Messages taken off a durable consumer, by outcome (ack, duplicate, nak, dead_letter).",
    ["consumer", "outcome"],
)
handler_duration = Histogram(
    "handler_duration_seconds",
    "Time from a message's fetch to its ack, by consumer.",
    ["consumer"],
    buckets=MESSAGE_BUCKETS,
)
message_queue_age = Histogram(
    "message_queue_age_seconds",
    "Time a message waited in its stream before it was handled.",
    ["consumer"],
    buckets=MESSAGE_BUCKETS,
)
batch_size = Histogram(
    "consumer_batch_size",
    "Messages a staged consumer recorded per transaction.",
    ["consumer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
messages_in_flight = Gauge("messages_in_flight", "Messages being handled now.", ["consumer"])
outbox_pending = Gauge("outbox_pending", "Outbox messages not yet acknowledged by JetStream.")
outbox_oldest_pending_age = Gauge(
    "outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox message."
)
outbox_published = Counter(
    "outbox_published", "Outbox messages published, by outcome (ok, duplicate, error).", ["outcome"]
)

outage_retries = Counter(
    "consumer_outage_retries",
    "Tries of a message held while PostgreSQL or NATS was unreachable (not counted as failures).",
    ["consumer"],
)
dead_letters = Counter(
    "dead_letters",
    "Messages copied to the dead-letter stream, by consumer, subject and kind of reason.",
    ["consumer", "subject", "reason"],
)
# Read from JetStream's consumer info by `runtime.monitor`; every replica reports the same durable,
# so dashboards and alerts take the max over replicas.
consumer_pending = Gauge(
    "consumer_pending_messages",
    "Messages in a durable's stream that no replica has fetched yet (JetStream num_pending).",
    ["consumer"],
)
consumer_ack_pending = Gauge(
    "consumer_ack_pending_messages",
    "Messages fetched and not yet acknowledged (JetStream num_ack_pending).",
    ["consumer"],
)
consumer_redelivered = Gauge(
    "consumer_redelivered_messages",
    "Messages delivered more than once and not yet acknowledged (JetStream num_redelivered).",
    ["consumer"],
)
dead_letter_stream_messages = Gauge(
    "dead_letter_stream_messages", "Messages held in the dead-letter stream (all services)."
)
service_ready = Gauge(
    "service_ready", "1 while the process's dependencies answer (what /readyz says), else 0."
)
dependency_up = Gauge(
    "dependency_up", "1 while a dependency (database, nats) answers, else 0.", ["dependency"]
)
monitor_errors = Counter(
    "monitor_errors", "Failed reads of JetStream state by the metrics monitor.", ["what"]
)

log = structlog.get_logger()


def setup(service: str, *, log_level: str = "INFO") -> TracerProvider:
    """Configure structured logging and the tracer provider for `service` (once, from main)."""
    _setup_logging(service, log_level)
    return _setup_tracing(service)


def _setup_logging(service: str, level: str) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        # One write per line (with its newline), so lines of processes sharing a pipe never interleave.
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard library are rendered as the same JSON lines.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A record's exc_info becomes the readable stack trace, not a tuple's repr.
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own logging config (if anything in the process applied it) stops its records at
    # the `uvicorn` logger with a plain-text handler: route them to the root's JSON lines instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _add_service(service: str) -> Any:
    def processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return processor


def exporting_traces() -> bool:
    """Whether spans leave the process (`OTEL_EXPORTER_OTLP_ENDPOINT` or its traces variant)."""
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def trace_database(engine: AsyncEngine) -> None:
    """A client span per SQL statement, in the trace of the message or request that runs it; only
    when spans are exported, so the hot paths pay nothing for spans nobody reads. The statement
    is recorded as SQLAlchemy sends it: placeholders, never the values."""
    if not exporting_traces():
        return
    sync_engine = engine.sync_engine
    database = sync_engine.url.database or ""

    @event.listens_for(sync_engine, "before_cursor_execute")
    def start(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        context._studio_span = _start_statement_span(statement, database)

    @event.listens_for(sync_engine, "after_cursor_execute")
    def end(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, "_studio_span", None)
        if span is not None:
            span.end()

    @event.listens_for(sync_engine, "handle_error")
    def failed(error: Any) -> None:
        span = getattr(error.execution_context, "_studio_span", None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, type(error.original_exception).__name__))
            span.end()


@contextmanager
def statement_span(statement: str, database: str) -> Iterator[None]:
    """`trace_database`'s span for a statement a hot path runs through psycopg itself, past
    SQLAlchemy's events; nothing when spans are not exported."""
    if not exporting_traces():
        yield
        return
    span = _start_statement_span(statement, database)
    try:
        yield
    except Exception as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def _start_statement_span(statement: str, database: str) -> trace.Span:
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    return tracer().start_span(
        f"{operation} {database}",
        kind=SpanKind.CLIENT,
        attributes={
            "db.system": "postgresql",
            "db.system.name": "postgresql",
            "db.namespace": database,
            "db.operation.name": operation,
            "db.query.text": statement[:2000],
        },
    )


def _setup_tracing(service: str) -> TracerProvider:
    provider = tracer_provider(service)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(service: str) -> TracerProvider:
    """Spans are exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, sampled as the
    standard `OTEL_TRACES_SAMPLER` says (every trace by default).

    Otherwise no span leaves the process, so none is recorded: each request and message still gets
    a span's ids, which carry the caller's trace on to the commands and events it causes, without
    the recording nobody reads (about 20 µs of a listed page's 560 in the gateway). A caller's
    trace that is sampled is still recorded, so that services downstream which export keep it
    whole."""
    resource = Resource.create({"service.name": service})
    if not exporting_traces():
        return TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@functools.cache
def tracer() -> trace.Tracer:
    """The process's one tracer, looked up once: a lookup per span costs a hot path a few percent.
    Asked for before `setup()`, it is OpenTelemetry's proxy, which follows the provider set later."""
    return trace.get_tracer("agent-studio")
