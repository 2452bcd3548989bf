"""The published read model: the NATS key-value bucket `<ROOT>_PUBLISHED` that serving reads."""

from __future__ import annotations

from uuid import UUID

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from contracts.publishing import PublishedChannel, PublishedVersion, channel_key, version_key
from publisher import domain


class PublishedBucket:
    """Writes versions and channels to the bucket; a channel only moves forward (`seq`)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def put_version(self, version: PublishedVersion) -> None:
        await self._kv.put(
            version_key(version.agent_id, version.number), version.model_dump_json().encode()
        )

    async def put_channel(self, agent_id: UUID, name: str, value: PublishedChannel) -> None:
        """Compare-and-set: written only over an earlier move, whatever the writers' order."""
        key = channel_key(agent_id, name)
        data = value.model_dump_json().encode()
        while True:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                try:
                    await self._kv.create(key, data)
                    return
                except KeyWrongLastSequenceError:
                    continue  # written meanwhile: compare with it
            current = PublishedChannel.model_validate_json(entry.value or b"")
            if not domain.replaces(current, value):
                return
            try:
                await self._kv.update(key, data, last=entry.revision)
                return
            except KeyWrongLastSequenceError:
                continue

    async def drop_agent(self, agent_id: UUID, numbers: list[int], names: list[str]) -> None:
        for name in names:
            await self._kv.delete(channel_key(agent_id, name))
        for number in numbers:
            await self._kv.delete(version_key(agent_id, number))
