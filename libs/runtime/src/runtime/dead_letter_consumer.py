"""Reading the dead-letter stream back: a service learns which of its requests can never be applied.

A command that is dead-lettered leaves the request it was sent for waiting for an answer that will
never come. `DeadLetterConsumer` decodes each dead letter's original message and hands it, with the
reason, to a handler that settles that request (the gateway marks it failed). It is the plain
consumer loop otherwise: one transaction with an inbox row keyed by the original message's id, so a
redelivered dead letter, or the same message dead-lettered twice, is applied once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import registry
from contracts.envelope import Envelope
from contracts.subjects import DEAD_LETTER, Durable, relative_subject
from runtime.consumer import Consumer

log = structlog.get_logger()


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be applied, as copied to the dead-letter stream."""

    subject: str
    """The original subject, without its root (e.g. `publisher.cmd.publish_version.v1`)."""
    envelope: Envelope[Any]
    reason: str
    """The consumer's own words (may quote an exception): for logs and operators, not for people."""
    consumer: str
    """The durable that gave up on it (`<service>--<label>`)."""
    deliveries: int


SERVICE_NAMES = {
    "compiler": "the compiler",
    "test_runner": "the test-runner",
    "publisher": "the publisher",
}


def readable_reason(letter: DeadLetter, what: str) -> str:
    """Why `what` (e.g. "publish") failed, for a person: which service gave up and how, never
    the exception it quoted (which may hold SQL or internals); operators find that in the logs and
    the dead-letter stream by the message id given."""
    owner = letter.subject.split(".", 1)[0]
    service = SERVICE_NAMES.get(owner, f"the {owner} service")
    raw = letter.reason
    if raw.startswith("undecodable") or " is not one " in raw:
        how = "could not read it"
    elif raw.startswith("permanent:"):
        how = "refused it as something it can never apply"
    elif raw.startswith("a dependency stayed unreachable"):
        how = f"could not reach its database or broker ({letter.deliveries} attempts)"
    elif raw.startswith("no acknowledgement"):
        how = f"never finished applying it ({letter.deliveries} attempts)"
    else:
        how = f"failed to apply it {letter.deliveries} times in a row"
    return (
        f"this {what} could not be carried out: {service} {how}, so it was given up "
        f"(message {letter.envelope.id} in the dead letters)"
    )


DeadLetterHandler = Callable[[DeadLetter, AsyncSession], Awaitable[Sequence[BaseModel]]]
"""Settles what a dead letter leaves open, inside the given transaction; returns what it emits."""


@dataclass(frozen=True)
class DeadLetterBinding:
    """A durable on the dead-letter stream and the handler that settles each dead letter."""

    durable: Durable
    handler: DeadLetterHandler


async def _never_called(_envelope: Envelope[Any], _session: AsyncSession) -> Sequence[BaseModel]:
    raise AssertionError("dead letters go through DeadLetterConsumer._handle")


class DeadLetterConsumer(Consumer):
    def __init__(self, js: JetStreamContext, binding: DeadLetterBinding, **common: Any) -> None:
        super().__init__(js, binding.durable, _never_called, **common)
        self._settle = binding.handler

    async def _decode_and_apply(self, msg: Msg) -> str:
        original = self._original_subject(msg)
        if original is None or not registry.is_registered(original):
            # A dead letter of a dead letter, or of a subject this build does not know: it names
            # nothing this service asked for.
            await msg.ack_sync(timeout=2.0)
            return "skipped"
        try:
            envelope = registry.decode(original, msg.data)
        except registry.UndecodableMessageError as exc:
            await msg.ack_sync(timeout=2.0)
            log.warning("dead_letter.undecodable", subject=original, error=str(exc)[:300])
            return "skipped"
        with structlog.contextvars.bound_contextvars(
            correlation_id=str(envelope.correlation_id),
            message_id=str(envelope.id),
            consumer=self._durable.name,
        ):
            try:
                return await self._apply(msg, envelope)
            except Exception as exc:
                return await self._retry_or_dead_letter(msg, exc)

    async def _handle(
        self, msg: Msg, envelope: Envelope[Any], session: AsyncSession
    ) -> Sequence[BaseModel]:
        headers = msg.headers or {}
        letter = DeadLetter(
            subject=self._original_subject(msg) or "",
            envelope=envelope,
            reason=headers.get("Studio-Dead-Letter-Reason", ""),
            consumer=headers.get("Studio-Consumer", ""),
            deliveries=int(headers.get("Studio-Deliveries", "0") or 0),
        )
        return await self._settle(letter, session)

    def _original_subject(self, msg: Msg) -> str | None:
        relative = relative_subject(msg.subject, self._root)
        prefix = f"{DEAD_LETTER.token}."
        original = relative.removeprefix(prefix)
        if original == relative or original.startswith(prefix):
            return None
        return original
