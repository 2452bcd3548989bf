"""The transactional outbox: messages are rows written with the state change, published by a relay.

The relay is the only thing that publishes, each message with `Nats-Msg-Id` = the envelope id, in
one of two ways:
- the claim: in one transaction it takes a batch of rows by deleting them, publishes them, and
  commits only after JetStream's PubAcks; a row whose publish failed is put back. It runs when a
  commit nudges it, and every `poll_interval`.
- from memory, for the hot paths (`publish_committed`): the rows their writer has just committed
  are published as they are, then deleted by id; no claim, and none of its round trips before the
  message is out. A row this does not send stays in the table for the claim. What went out is
  deleted by the next direct group commit of the process, in its own transaction (`take_sent`),
  where it costs neither a statement of its own nor a commit; the relay deletes what no group
  took within `delete_after` itself, and always before a claim (which would send it again).
A crash at any point leaves the rows (or rolls the claim back) and they are sent again
(deduplicated by JetStream within its window, and by the consumers' inbox after it): never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
import structlog
from nats.js import JetStreamContext
from opentelemetry import propagate
from opentelemetry.context import Context
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts import registry
from contracts.envelope import Envelope
from contracts.registry import subject_for_type
from runtime import db
from runtime import observability as obs

log = structlog.get_logger()


async def add(
    session: AsyncSession,
    outbox: sa.Table,
    envelopes: Iterable[Envelope[Any]],
    contexts: Sequence[Context | None] | None = None,
) -> int:
    """Write `envelopes` to the outbox inside the caller's transaction; returns how many. Each
    carries the current trace, or its own from `contexts` (one per envelope) when given."""
    rows = _rows(list(envelopes), contexts)
    if rows:
        # One row (the usual case) as a single statement; executemany would add a pipeline.
        await session.execute(_insert_values(outbox), rows[0] if len(rows) == 1 else rows)
    return len(rows)


async def write(
    connection: psycopg.AsyncConnection[Any],
    outbox: sa.Table,
    envelopes: Sequence[Envelope[Any]],
    contexts: Sequence[Context | None] | None = None,
) -> list[dict[str, Any]]:
    """`add` for a hot path's transaction on a psycopg connection of its own (the gateway's
    direct pool, a direct group commit): the same rows, each carrying the current trace or its
    own from `contexts`. In pipeline mode nothing waits for them: they travel with the
    statements around them and the commit. Returns the rows, for `Relay.publish_committed`."""
    rows = _rows(list(envelopes), contexts)
    for row in rows:
        await db.execute(connection, _insert_values(outbox), row)
    return rows


def _rows(
    envelopes: list[Envelope[Any]], contexts: Sequence[Context | None] | None
) -> list[dict[str, Any]]:
    # The trace continues in whoever consumes these messages.
    if contexts is None:
        traces = [_traced(None)] * len(envelopes)
    else:
        traces = [_traced(context) for context in contexts]
    return [
        {
            "message_id": env.id,
            "subject": subject_for_type(env.type).relative,
            "payload": env.model_dump_json().encode(),
            "headers": headers,
        }
        for env, headers in zip(envelopes, traces, strict=True)
    ]


def _traced(context: Context | None) -> dict[str, str]:
    """The headers that carry `context`'s trace (None: the current one)."""
    headers: dict[str, str] = {}
    propagate.inject(headers, context=context)
    return headers


async def delete_sent(
    connection: psycopg.AsyncConnection[Any], outbox: sa.Table, message_ids: Sequence[UUID]
) -> None:
    """Delete the rows of messages already published, in a direct group commit's transaction
    (`Relay.take_sent`): in pipeline mode it travels with the group's commit."""
    await db.execute(connection, _delete_sent(outbox), {"sent": list(message_ids)})


@cache
def _delete_sent(outbox: sa.Table) -> sa.Delete:
    sent = sa.bindparam("sent", type_=ARRAY(outbox.c.message_id.type))
    return sa.delete(outbox).where(outbox.c.message_id == sa.func.any(sent))


@cache
def _insert_values(outbox: sa.Table) -> sa.Insert:
    c = outbox.c
    values = {column: sa.bindparam(column, type_=c[column].type) for column in _WRITTEN}
    return sa.insert(outbox).values(values).inline()  # inline: no RETURNING of the new id


_WRITTEN = ("message_id", "subject", "payload", "headers")


def insert_with_message(outbox: sa.Table, insert: sa.Insert) -> sa.Insert:
    """One statement: `insert` (which must return something), and a message in the outbox if it
    wrote a row. Atomic on its own, so a hot path writes a row and its command in autocommit,
    without a transaction around them. Its parameters: the insert's, and `message_params`. Build
    it once (it is compiled once, `runtime.db`)."""
    written = insert.cte("written")
    c = outbox.c
    message = sa.select(*(sa.bindparam(column, type_=c[column].type) for column in _WRITTEN))
    return (
        sa.insert(outbox)
        .from_select(list(_WRITTEN), message.select_from(written))
        # At the top: PostgreSQL runs a data-modifying WITH only at a statement's top level.
        .add_cte(written, nest_here=True)
    )


def message_params(envelope: Envelope[Any]) -> dict[str, Any]:
    """`envelope`'s outbox row, carrying the current trace, as `insert_with_message` takes it."""
    return _rows([envelope], None)[0]


async def add_caused(
    session: AsyncSession,
    outbox: sa.Table,
    *,
    source: str,
    caused: Iterable[tuple[Envelope[Any], BaseModel]],
    contexts: Mapping[UUID, Context] | None = None,
) -> int:
    """Write each message in its envelope, carrying the correlation and owner of the message that
    caused it (its causation); returns how many. With `contexts` (by the causing message's id),
    each carries its cause's trace rather than the current one: a group committed together."""
    caused = list(caused)
    envelopes = _caused_envelopes(source, caused)
    if contexts is None:
        return await add(session, outbox, envelopes)
    return await add(session, outbox, envelopes, [contexts.get(cause.id) for cause, _ in caused])


async def write_caused(
    connection: psycopg.AsyncConnection[Any],
    outbox: sa.Table,
    *,
    source: str,
    caused: Sequence[tuple[Envelope[Any], BaseModel]],
    contexts: Mapping[UUID, Context],
) -> list[dict[str, Any]]:
    """`add_caused` for a direct group commit (`write`); returns the rows written."""
    traces = [contexts.get(cause.id) for cause, _ in caused]
    return await write(connection, outbox, _caused_envelopes(source, caused), traces)


def _caused_envelopes(
    source: str, caused: Sequence[tuple[Envelope[Any], BaseModel]]
) -> list[Envelope[Any]]:
    return [
        registry.envelope_for(
            data,
            source=source,
            correlation_id=cause.correlation_id,
            owner_id=cause.owner_id,
            causation_id=cause.id,
        )
        for cause, data in caused
    ]


class Relay:
    """Publishes pending outbox rows: at once when nudged after a commit, else every `poll_interval`."""

    def __init__(
        self,
        js: JetStreamContext,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: sa.Table,
        *,
        root: str,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        delete_after: float = 0.1,
    ) -> None:
        self._js = js
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._root = root
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._claim_due = False
        self._written: list[Mapping[str, Any]] = []
        # Published from memory, their rows not deleted yet: for the next direct group commit
        # to delete (`take_sent`), or for the relay once `delete_after` has passed.
        self._sent: list[UUID] = []
        self._delete_after = delete_after
        self._delete_due = 0.0  # when the relay deletes them itself (time.monotonic)
        self._last_gauge_update = 0.0
        t = outbox
        oldest = (
            sa.select(t.c.id)
            .order_by(t.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)  # several relays (replicas) share the table
            .scalar_subquery()
        )
        # Built once: the relay runs them after every commit that emitted something.
        self._claim = sa.delete(t).where(t.c.id.in_(oldest)).returning(*t.c)

    def nudge(self) -> None:
        """Call after committing outbox rows, so they go out now rather than at the next poll."""
        self._claim_due = True
        self._wake.set()

    def publish_committed(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Call with the outbox rows a hot path has just committed (as `write` returns them, or
        as `message_params` made them): they are published from memory, with no claim, then
        deleted by id. The table is still the guarantee: a row this does not publish (a failed
        publish, a crash first) stays, and the claim sends it at its next pass. A claim of
        another replica's relay meanwhile may send a row twice, which JetStream drops as a
        duplicate (`Nats-Msg-Id`)."""
        self._written.extend(rows)
        self._wake.set()

    def take_sent(self) -> list[UUID]:
        """The ids of messages published from memory whose rows are still to be deleted, for a
        direct group commit to delete in its own transaction (`delete_sent`); it must
        `give_back` them if that transaction does not commit."""
        taken, self._sent = self._sent, []
        return taken

    def give_back(self, message_ids: Sequence[UUID]) -> None:
        """Rows `take_sent` gave whose deletion did not commit: the relay deletes them."""
        self._keep_sent(message_ids, self._delete_after)

    async def run(self, stop: asyncio.Event) -> None:
        claim = True
        while not stop.is_set():
            self._wake.clear()
            try:
                await self._publish_written()
                claim = claim or self._claim_due
                if self._sent and (claim or time.monotonic() >= self._delete_due):
                    await self._delete_sent()  # before a claim, which would send them again
                if claim:
                    self._claim_due = False
                    while await self.publish_pending() == self._batch_size:
                        pass
                await self._refresh_gauges()
            except Exception as exc:  # the relay must outlive a database or broker outage
                log.warning("outbox.relay_failed", error=str(exc) or type(exc).__name__)
            timeout = self._poll_interval
            if self._sent:  # wake up to delete them, unless a group commit does it first
                timeout = min(timeout, max(0.0, self._delete_due - time.monotonic()))
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            # The poll: what nothing nudged for a whole interval (a crash's rows, failed publishes).
            claim = not done and timeout >= self._poll_interval
            waiter.cancel()
            stopper.cancel()
        # One last pass so rows committed by in-flight work during shutdown are not left waiting.
        try:
            await self._publish_written()
            await self._delete_sent()
            await self.publish_pending()
        except Exception as exc:
            log.warning("outbox.final_flush_failed", error=str(exc) or type(exc).__name__)

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        t = self._outbox
        async with self._sessionmaker.begin() as session:
            rows = (await session.execute(self._claim)).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(row) for row in rows), return_exceptions=True
            )
            failed = [(row, err) for row, err in zip(rows, results, strict=True) if err is not None]
            for row, error in failed:
                # Put it back: it goes out with the next batch, its failures counted.
                obs.outbox_published.labels("error").inc()
                log.warning(
                    "outbox.publish_failed", message_id=str(row.message_id), error=str(error)
                )
                await session.execute(
                    sa.insert(t).values(
                        {
                            **row._mapping,
                            "attempts": row.attempts + 1,
                            "last_error": str(error)[:500],
                        }
                    )
                )
            return len(rows) - len(failed)

    async def _publish_written(self) -> None:
        """Publish the rows handed over by `publish_committed`; those that went out are to be
        deleted (`take_sent`), the others stay in the table, for the claim."""
        rows, self._written = self._written, []
        if not rows:
            return
        results = await asyncio.gather(
            *(self._publish(row) for row in rows), return_exceptions=True
        )
        sent = [
            row["message_id"] for row, error in zip(rows, results, strict=True) if error is None
        ]
        if len(sent) < len(rows):
            obs.outbox_published.labels("error").inc(len(rows) - len(sent))
            log.warning("outbox.publish_failed", failed=len(rows) - len(sent))
            self._claim_due = True  # the claim tries them again, counting their attempts
        self._keep_sent(sent, self._delete_after)

    def _keep_sent(self, message_ids: Sequence[UUID], delete_in: float) -> None:
        if message_ids:
            if not self._sent:
                self._delete_due = time.monotonic() + delete_in
            self._sent.extend(message_ids)

    async def _delete_sent(self) -> None:
        """Delete the rows of what went out that no group commit took, in one statement in
        autocommit: deleting them cannot fail halfway, and a row left by a crash before this is
        only sent once more (and dropped by JetStream, or by the consumers' inbox)."""
        sent = self.take_sent()
        if not sent:
            return
        try:
            engine = self._sessionmaker.kw["bind"]
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(_delete_sent(self._outbox), {"sent": sent})
        except BaseException:
            self._keep_sent(sent, 0.0)
            self._delete_due = time.monotonic() + self._poll_interval  # the database is away
            raise

    async def _publish(self, row: Any) -> None:
        if not isinstance(row, Mapping):
            row = row._mapping
        headers = {**row["headers"], "Nats-Msg-Id": str(row["message_id"])}
        ack = await self._js.publish(
            f"{self._root}.{row['subject']}",
            row["payload"],
            headers=headers,
            timeout=self._publish_timeout,
        )
        obs.outbox_published.labels("duplicate" if ack.duplicate else "ok").inc()

    async def _refresh_gauges(self) -> None:
        """Every few seconds: how many rows wait, and for how long the oldest has."""
        now = time.monotonic()
        if now - self._last_gauge_update < 5:
            return
        self._last_gauge_update = now
        t = self._outbox
        async with self._sessionmaker() as session:
            count, oldest = (
                await session.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.extract("epoch", sa.func.now() - sa.func.min(t.c.created_at)),
                    )
                )
            ).one()
        obs.outbox_pending.set(count)
        obs.outbox_oldest_pending_age.set(float(oldest or 0))
