"""The dead-letter stream: where a message goes, with its reason, when it can never be applied.

Two ways in: the consumer loop copies a poison message, or one that failed its last delivery; and
`rescue_exhausted` copies one that JetStream stopped redelivering without ever hearing back (every
delivery ended in a crash or an ack timeout), as told by JetStream's max-deliveries advisory, which
the topology keeps in a stream so that none is missed while the service is down.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import nats.js.errors
import structlog
from nats.js import JetStreamContext

from contracts import registry
from contracts.subjects import DEAD_LETTER, EXHAUSTED, Durable, relative_subject
from runtime import observability as obs

log = structlog.get_logger()

DeadLetterKind = Literal[
    "wrong_subject", "undecodable", "permanent", "retries_exhausted", "no_acknowledgement"
]
"""Why a message was dead-lettered, as a closed set for the metric (the header has the detail)."""


class DeadLetters:
    def __init__(self, js: JetStreamContext, durable: Durable, *, root: str) -> None:
        self._js = js
        self._durable = durable
        self._root = root

    async def copy(
        self,
        subject: str,
        data: bytes,
        original_headers: dict[str, str] | None,
        *,
        stream: str,
        sequence: int,
        deliveries: int,
        reason: str,
        kind: DeadLetterKind,
    ) -> None:
        headers = dict(original_headers or {})
        headers.update(
            {
                # The copy is itself deduplicated, so a retried dead-lettering stores one copy.
                "Nats-Msg-Id": f"dlq-{stream}-{sequence}",
                "Studio-Dead-Letter-Reason": reason[:1000],
                "Studio-Original-Subject": subject,
                "Studio-Original-Stream": stream,
                "Studio-Original-Sequence": str(sequence),
                "Studio-Consumer": self._durable.name,
                "Studio-Deliveries": str(deliveries),
            }
        )
        await self._js.publish(
            DEAD_LETTER.subject_for(subject, self._root),
            data,
            headers=headers,
            stream=DEAD_LETTER.full_name(self._root),
        )
        log.error("consumer.dead_lettered", subject=subject, reason=reason[:300])
        relative = relative_subject(subject, self._root)
        # Only subjects of the contracts become label values: a stray subject must not mint series.
        label = relative if registry.is_registered(relative) else "unregistered"
        obs.dead_letters.labels(self._durable.name, label, kind).inc()

    async def rescue_exhausted(self, stop: asyncio.Event, fetch_timeout: float) -> None:
        """Until `stop`: copy every message the durable's advisories name as out of deliveries."""
        sub = await self._js.pull_subscribe_bind(
            f"{self._durable.name}--exhausted", stream=EXHAUSTED.full_name(self._root)
        )
        while not stop.is_set():
            try:
                advisories = await sub.fetch(1, timeout=fetch_timeout)
            except TimeoutError:
                continue
            except Exception as exc:
                log.warning("consumer.fetch_failed", consumer=self._durable.name, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            for advisory in advisories:
                try:
                    await self._rescue(json.loads(advisory.data))
                    await advisory.ack_sync(timeout=2.0)
                except Exception as exc:
                    log.warning(
                        "consumer.rescue_failed", consumer=self._durable.name, error=repr(exc)
                    )
                    await advisory.nak(delay=5.0)
        await sub.unsubscribe()

    async def _rescue(self, advisory: dict[str, Any]) -> None:
        stream, sequence = advisory["stream"], int(advisory["stream_seq"])
        deliveries = int(advisory.get("deliveries", 0))
        try:
            original = await self._js.get_msg(stream, seq=sequence)
        except nats.js.errors.NotFoundError:
            log.error("consumer.exhausted_message_gone", stream=stream, sequence=sequence)
            return
        await self.copy(
            original.subject or "",
            original.data or b"",
            original.headers,
            stream=stream,
            sequence=sequence,
            deliveries=deliveries,
            reason=f"no acknowledgement after {deliveries} deliveries "
            "(the handler crashed or outlived its ack wait each time)",
            kind="no_acknowledgement",
        )
        obs.messages_processed.labels(self._durable.name, "dead_letter").inc()
