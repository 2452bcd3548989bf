"""Operating the dead-letter stream: list what is there, read one, and replay it after a fix.

A replay publishes the original bytes and headers to the original subject, so the message meets the
same durable again (and its inbox: a message applied meanwhile is not applied twice), then removes
the dead letter. Its `Nats-Msg-Id` is new (`replay-<dead-letter sequence>`), so JetStream's
duplicate window does not swallow it as the original, but does swallow a replay sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import nats.js.errors
from nats.js import JetStreamContext

from contracts.subjects import DEAD_LETTER, relative_subject

# Headers the dead-lettering added (and JetStream's publish expectations, which the stored copy keeps).
_ADDED_HEADER_PREFIXES = ("Studio-", "Nats-Expected-", "Nats-Msg-Id")


class DeadLetterNotFoundError(Exception):
    """No dead letter has that sequence number (never, or replayed or purged since)."""


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    """Its sequence in the dead-letter stream: what `show` and `replay` take."""
    subject: str
    """The original subject, relative to the root (`compiler.cmd.compile_agent.v1`)."""
    consumer: str
    reason: str
    deliveries: int
    dead_lettered_at: datetime | None
    data: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)

    def original_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if not k.startswith(_ADDED_HEADER_PREFIXES)}


class DeadLetterAdmin:
    def __init__(self, js: JetStreamContext, *, root: str) -> None:
        self._js = js
        self._root = root
        self._stream = DEAD_LETTER.full_name(root)
        [self._every_subject] = DEAD_LETTER.subjects(root)

    async def list(self, *, subject: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The oldest `limit` dead letters, those of one original `subject` if given."""
        found: list[DeadLetter] = []
        letter = await self._next(after=0)
        while letter is not None and len(found) < limit:
            if subject is None or letter.subject == subject:
                found.append(letter)
            letter = await self._next(after=letter.sequence)
        return found

    async def get(self, sequence: int) -> DeadLetter:
        try:
            raw = await self._js.get_msg(self._stream, seq=sequence)
        except nats.js.errors.NotFoundError:
            raise DeadLetterNotFoundError(f"no dead letter {sequence}") from None
        return self._read(raw.seq or sequence, raw.subject or "", raw.data, raw.headers, raw.time)

    async def replay(self, sequence: int) -> DeadLetter:
        """Publish the dead letter back to its original subject, then remove it."""
        letter = await self.get(sequence)
        headers = {**letter.original_headers(), "Nats-Msg-Id": f"replay-{letter.sequence}"}
        await self._js.publish(
            f"{self._root}.{letter.subject}",
            letter.data,
            headers=headers,
            stream=letter.headers.get("Studio-Original-Stream"),
        )
        await self._js.delete_msg(self._stream, letter.sequence)
        return letter

    async def _next(self, after: int) -> DeadLetter | None:
        try:
            # The next message at or after that sequence, on any of the stream's subjects: a
            # bare sequence would stop at the first gap a replay (or a purge) left.
            raw = await self._js.get_msg(
                self._stream, seq=after + 1, subject=self._every_subject, next=True
            )
        except nats.js.errors.NotFoundError:
            return None
        return self._read(raw.seq or 0, raw.subject or "", raw.data, raw.headers, raw.time)

    def _read(
        self,
        sequence: int,
        stream_subject: str,
        data: bytes | None,
        headers: dict[str, str] | None,
        time: datetime | str | None,
    ) -> DeadLetter:
        headers = dict(headers or {})
        original = headers.get("Studio-Original-Subject") or _original_subject(
            stream_subject, self._root
        )
        return DeadLetter(
            sequence=sequence,
            subject=relative_subject(original, self._root),
            consumer=headers.get("Studio-Consumer", ""),
            reason=headers.get("Studio-Dead-Letter-Reason", ""),
            deliveries=int(headers.get("Studio-Deliveries", "0") or 0),
            dead_lettered_at=time if isinstance(time, datetime) else _parse_time(time),
            data=data or b"",
            headers=headers,
        )


def _original_subject(stream_subject: str, root: str) -> str:
    """`<root>.dlq.<relative>` → `<root>.<relative>`."""
    prefix = f"{root}.{DEAD_LETTER.token}."
    return f"{root}.{stream_subject.removeprefix(prefix)}"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
