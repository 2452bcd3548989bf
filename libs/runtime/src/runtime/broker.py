"""NATS connection and the JetStream topology, provisioned idempotently from `contracts.subjects`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError

from contracts import subjects as s
from contracts.publishing import published_bucket

log = structlog.get_logger()

DUPLICATE_WINDOW_SECONDS = 120.0
STREAM_MAX_AGE_SECONDS = 7 * 24 * 3600.0
DEAD_LETTER_MAX_AGE_SECONDS = 30 * 24 * 3600.0


class BrokerUnavailableError(Exception):
    """NATS cannot be reached; the message names the URL and the reason."""


@dataclass(frozen=True)
class ConsumerPolicy:
    """Delivery settings chosen deliberately; the server defaults (unlimited redelivery) are never used."""

    ack_wait: float
    max_deliver: int
    max_ack_pending: int
    handler_timeout: float = 300.0
    outage_patience: float = 600.0
    """Seconds a message is held and retried while PostgreSQL or NATS is unreachable."""
    outage_allowance: int = 0
    """Deliveries beyond `max_deliver` JetStream allows, for those lost to an outage (a lease
    that ran out while NATS was unreachable); never used up by a handler's own failures."""

    @property
    def delivery_limit(self) -> int:
        """JetStream's MaxDeliver: the poison budget plus the outage allowance."""
        return self.max_deliver + self.outage_allowance


async def connect(url: str, *, name: str, startup_timeout: float = 10.0) -> Client:
    """Connect within `startup_timeout` (else fail with a clear reason); later, reconnect forever."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc) or type(exc).__name__)

    client: Client | None = None

    async def on_disconnected() -> None:
        if client is not None and (client.is_closed or client.is_draining):
            return  # our own shutdown, not an outage
        log.warning("nats.disconnected")

    async def on_reconnected() -> None:
        log.info("nats.reconnected")

    try:
        async with asyncio.timeout(startup_timeout):
            client = await nats.connect(
                url,
                name=name,
                connect_timeout=2,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                drain_timeout=10,
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
            )
            return client
    except TimeoutError:
        raise BrokerUnavailableError(
            f"NATS at {url} is unreachable: no connection within {startup_timeout:g} s"
        ) from None
    except Exception as exc:
        raise BrokerUnavailableError(
            f"NATS at {url} is unreachable: {str(exc) or type(exc).__name__}"
        ) from None


async def ensure_topology(
    js: JetStreamContext,
    root: str,
    durables: tuple[s.Durable, ...],
    policy: ConsumerPolicy,
    *,
    replicas: int = 1,
) -> None:
    """Create or update every stream and the given durables; safe to run from every replica.

    Every replica of a service provisions what it consumes, so a deploy brings its own topology.
    `replicas` is each stream's (and the read model's) copies in a JetStream cluster: 3 on a
    three-node cluster, so a node can be lost or restarted without losing a message.
    """
    for stream in s.ALL_STREAMS:
        await _ensure_stream(
            js,
            StreamConfig(
                name=stream.full_name(root),
                subjects=stream.subjects(root),
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=STREAM_MAX_AGE_SECONDS,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                num_replicas=replicas,
            ),
        )
    await _ensure_stream(
        js,
        StreamConfig(
            name=s.DEAD_LETTER.full_name(root),
            subjects=s.DEAD_LETTER.subjects(root),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=DEAD_LETTER_MAX_AGE_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        ),
    )
    exhausted = sorted({d.exhausted_advisory(root) for d in (*s.ALL_DURABLES, *durables)})
    await _ensure_stream(
        js,
        StreamConfig(
            name=s.EXHAUSTED.full_name(root),
            subjects=exhausted,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=DEAD_LETTER_MAX_AGE_SECONDS,
            num_replicas=replicas,
        ),
    )
    await _ensure_bucket(js, published_bucket(root), replicas)
    for durable in durables:
        await js.add_consumer(
            s.EXHAUSTED.full_name(root),
            ConsumerConfig(
                durable_name=f"{durable.name}--exhausted",
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=policy.ack_wait,
                max_deliver=-1,  # advisories are retried until they are handled
                filter_subject=durable.exhausted_advisory(root),
            ),
        )
        # Creating a durable that exists updates its editable fields, so a changed policy
        # (ack_wait, max_deliver, max_ack_pending) takes effect on the next deploy.
        await js.add_consumer(
            durable.stream.full_name(root),
            ConsumerConfig(
                durable_name=durable.name,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=policy.ack_wait,
                max_deliver=policy.delivery_limit,
                max_ack_pending=policy.max_ack_pending,
                filter_subject=durable.filter_subject(root),
            ),
        )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError:
        # The stream exists with another configuration: bring it to the one in code.
        await js.update_stream(config)


async def _ensure_bucket(js: JetStreamContext, bucket: str, replicas: int) -> None:
    """The published read model: one value per key (history 1), kept on disk."""
    try:
        await js.key_value(bucket)
    except BucketNotFoundError:
        await js.create_key_value(
            KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE, replicas=replicas)
        )
