"""The published read model, mirrored in memory from the publisher's key-value bucket.

Serving reads (the published instructions, the OpenAI-compatible endpoint) look here: no database
query for the version, no call to the publisher, which may be down. A watch keeps the mirror
current; it starts with every key's latest value and then follows each change as it happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts.publishing import KEY_PATTERN, PublishedChannel, PublishedVersion

log = structlog.get_logger()


class PublishedCache:
    def __init__(self, js: JetStreamContext, bucket: str) -> None:
        self._js = js
        self._bucket = bucket
        self._versions: dict[tuple[UUID, int], PublishedVersion] = {}
        self._bodies: dict[tuple[UUID, int, str | None], bytes] = {}
        self._channels: dict[tuple[UUID, str], PublishedChannel] = {}
        self.ready = asyncio.Event()
        self._changed = asyncio.Event()

    def version(self, agent_id: UUID, number: int) -> PublishedVersion | None:
        return self._versions.get((agent_id, number))

    def channel(self, agent_id: UUID, name: str) -> PublishedChannel | None:
        return self._channels.get((agent_id, name))

    def changed(self) -> asyncio.Event:
        """Set at the mirror's next change (take it before checking what it shows)."""
        return self._changed

    def resolve(
        self, agent_id: UUID, *, channel: str | None = None, number: int | None = None
    ) -> PublishedVersion | None:
        """The version a channel points at, or version `number`."""
        if number is None:
            pointer = self.channel(agent_id, channel or "production")
            if pointer is None:
                return None
            number = pointer.version
        return self.version(agent_id, number)

    def body(
        self, version: PublishedVersion, channel: str | None, render: Callable[[], bytes]
    ) -> bytes:
        """The response body of a published read, rendered once per version and channel."""
        key = (version.agent_id, version.number, channel)
        found = self._bodies.get(key)
        if found is None:
            found = self._bodies[key] = render()
        return found

    async def run(self) -> None:
        """Mirror the bucket until cancelled, re-watching after any failure."""
        while True:
            try:
                kv = await self._js.key_value(self._bucket)
                watcher = await kv.watchall()
                async for entry in watcher:
                    if entry is None:  # the initial values are all in
                        self.ready.set()
                        continue
                    self._apply(entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("published.watch_failed", error=repr(exc))
                await asyncio.sleep(1.0)

    def _apply(self, entry: KeyValue.Entry) -> None:
        self._update(entry)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _update(self, entry: KeyValue.Entry) -> None:
        match = KEY_PATTERN.match(entry.key)
        if match is None:
            return
        agent_id = UUID(match["agent"])
        deleted = entry.operation in ("DEL", "PURGE") or not entry.value
        if match["number"] is not None:
            key = (agent_id, int(match["number"]))
            if deleted:
                self._versions.pop(key, None)
            else:
                self._versions[key] = PublishedVersion.model_validate_json(entry.value or b"")
            self._bodies = {k: v for k, v in self._bodies.items() if k[:2] != key}
            return
        channel_key = (agent_id, str(match["channel"]))
        if deleted:
            self._channels.pop(channel_key, None)
            return
        value = PublishedChannel.model_validate_json(entry.value or b"")
        current = self._channels.get(channel_key)
        if current is None or value.seq >= current.seq:
            self._channels[channel_key] = value
