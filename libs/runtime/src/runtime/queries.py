"""Queries: request/reply over core NATS, for answers a person is waiting for (e.g. the coach).

At most once by nature, so only for reads and drafts, never for changes that must not be lost
(those are commands on JetStream). A service answers in a queue group (one replica per request),
each request in its own task so a slow answer does not hold up the next; the asker gets the reply
model, or `QueryFailed` with the reason (nobody answering, a timeout, an error on the other side).
What crosses back on an error is a sentence for a person: the exception, its SQL and its stack
trace stay in the answering service's log, under the request's correlation id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from contracts import registry
from contracts.envelope import Envelope
from contracts.subjects import Subject, relative_subject
from runtime import observability as obs

log = structlog.get_logger()

ERROR_HEADER = "Studio-Error"


class QueryFailed(Exception):
    """No answer: the message says why, for a person."""


@dataclass(frozen=True)
class QueryBinding:
    """A query subject and the handler that answers it with its reply model."""

    subject: Subject
    handler: Callable[[Envelope[Any]], Awaitable[BaseModel]]


async def answer(
    nc: Client, binding: QueryBinding, *, root: str, service: str, concurrency: int
) -> Subscription:
    """Subscribe `binding` in the service's queue group; returns the subscription."""
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def on_request(msg: Msg) -> None:
        await slots.acquire()
        task = asyncio.create_task(_answer_one(nc, msg, binding, root))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(lambda _t: slots.release())

    return await nc.subscribe(binding.subject.full(root), queue=service, cb=on_request)


async def _answer_one(nc: Client, msg: Msg, binding: QueryBinding, root: str) -> None:
    relative = relative_subject(msg.subject, root)
    try:
        envelope = registry.decode(relative, msg.data)
    except registry.UndecodableMessageError as exc:
        log.warning("query.undecodable", subject=relative, error=str(exc))
        await _respond(nc, msg, b"", {ERROR_HEADER: "the query was not one it can read"})
        return
    with (
        obs.tracer().start_as_current_span(
            f"process {relative}",
            context=propagate.extract(msg.headers or {}),
            kind=SpanKind.SERVER,
            attributes={"messaging.system": "nats", "messaging.destination.name": relative},
        ),
        structlog.contextvars.bound_contextvars(
            correlation_id=str(envelope.correlation_id), message_id=str(envelope.id)
        ),
    ):
        try:
            reply = await binding.handler(envelope)
        except Exception:  # the asker gets a reason, never silence (nor our internals)
            log.exception("query.failed", subject=relative)
            reason = f"an unexpected error, logged under correlation id {envelope.correlation_id}"
            await _respond(nc, msg, b"", {ERROR_HEADER: reason})
            return
        await _respond(nc, msg, reply.model_dump_json().encode(), {})


async def _respond(nc: Client, msg: Msg, data: bytes, headers: dict[str, str]) -> None:
    # Msg.respond would copy the request's headers into the reply; send exactly ours.
    await nc.publish(msg.reply, data, headers=headers or None)


async def ask(
    nc: Client,
    data: BaseModel,
    *,
    root: str,
    source: str,
    owner_id: UUID | None,
    correlation_id: UUID,
    timeout: float,
) -> BaseModel:
    """Send the query `data` and wait at most `timeout` seconds for its reply model."""
    envelope = registry.envelope_for(
        data, source=source, correlation_id=correlation_id, owner_id=owner_id
    )
    subject = registry.subject_of(data)
    headers: dict[str, str] = {}
    propagate.inject(headers)
    try:
        msg = await nc.request(
            subject.full(root),
            envelope.model_dump_json().encode(),
            timeout=timeout,
            headers=headers,
        )
    except nats.errors.NoRespondersError:
        raise QueryFailed(f"no {subject.owner} is running to answer") from None
    except TimeoutError:
        raise QueryFailed(f"no answer from the {subject.owner} within {timeout:g} s") from None
    if msg.headers and ERROR_HEADER in msg.headers:
        raise QueryFailed(f"the {subject.owner} could not answer: {msg.headers[ERROR_HEADER]}")
    return registry.REPLIES[subject].model_validate_json(msg.data)
