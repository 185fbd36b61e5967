"""Transactional outbox: `emit` writes the event with the state change; `OutboxRelay` publishes.

A Kafka outage delays events and never loses them: rows stay unpublished until the broker
acknowledges them (acks=all), then they are marked sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from opentelemetry import propagate, trace
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from trellis_shared.events import Event, EventContract, to_kafka
from trellis_shared.messaging_tables import outbox_message
from trellis_shared.telemetry import context_from_traceparent, current_traceparent, meter, tracer

log = logging.getLogger("trellis.outbox")

# One advisory lock key per schema: a single relay publishes at a time, which keeps one entity's
# events in commit order even with several replicas (SKIP LOCKED alone would let two replicas
# publish neighbouring batches out of order).
_LOCK_NAMESPACE = 0x7E11
_ACK_TIMEOUT_S = 20.0


def notify_channel(schema: str) -> str:
    return f"trellis_outbox_{schema}"


async def emit(
    session: AsyncSession,
    data: EventContract,
    *,
    tenant: uuid.UUID,
    source: str,
    channel: str | None = None,
) -> Event[Any]:
    """Write an event to the outbox inside the caller's transaction; the relay publishes it."""
    event_ = Event.new(data, tenant=tenant, source=source)
    connection = await session.connection()
    await connection.execute(_insert_one(channel), _outbox_row(event_))
    return event_


@functools.lru_cache(maxsize=64)
def _insert_one(channel: str | None) -> sa.Executable:
    """The INSERT of one outbox row, and with a channel its NOTIFY in the same round trip
    (delivered at commit only, so the relay never wakes for a rolled-back event). Built once."""
    insert = outbox_message.insert().values(
        {c.name: sa.bindparam(c.name, type_=c.type) for c in _ROW_COLUMNS}
    )
    if channel is None:
        return insert
    written = insert.returning(outbox_message.c.id).cte("written")
    return sa.select(sa.func.pg_notify(channel, "")).select_from(written)


async def emit_many(
    session: AsyncSession,
    items: Sequence[EventContract],
    *,
    tenant: uuid.UUID,
    source: str,
    channel: str | None = None,
) -> list[Event[Any]]:
    """`emit` for many events in one round trip (a bulk import writes thousands), in order."""
    events = [Event.new(data, tenant=tenant, source=source) for data in items]
    if not events:
        return events
    connection = await session.connection()
    await connection.execute(outbox_message.insert(), [_outbox_row(e) for e in events])
    if channel:
        await connection.execute(sa.select(sa.func.pg_notify(channel, "")))
    return events


_ROW_COLUMNS = [
    outbox_message.c[name]
    for name in (
        "event_id",
        "event_type",
        "topic",
        "key",
        "tenant",
        "headers",
        "payload",
        "traceparent",
    )
]


def _outbox_row(event_: Event[Any]) -> dict[str, Any]:
    message = to_kafka(event_)
    return {
        "event_id": event_.id,
        "event_type": event_.type,
        "topic": event_.topic,
        "key": event_.subject,
        "tenant": event_.tenant,
        "headers": {k: v.decode() for k, v in message.headers.items()},
        "payload": message.value,
        "traceparent": current_traceparent(),
    }


@functools.lru_cache(maxsize=64)
def _next_batch(schema: str, batch_size: int) -> sa.Select:
    """The oldest unpublished rows, locked, if this relay holds the schema's advisory lock (no
    rows if another relay does). The lock is taken by the same statement (an InitPlan, run
    once, before any row is read): one round trip less for every batch. Built once."""
    holds_lock = sa.select(
        sa.func.pg_try_advisory_xact_lock(_LOCK_NAMESPACE, _schema_key(schema))
    ).scalar_subquery()
    return (
        sa.select(outbox_message)
        .where(holds_lock, outbox_message.c.published_at.is_(None))
        .order_by(outbox_message.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


class OutboxRelay:
    """Publishes unpublished outbox rows in id order, in batches, and marks them sent."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        producer_factory: Callable[[], AIOKafkaProducer],
        listen_dsn: str,
        schema: str,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retention_hours: float = 72.0,
    ) -> None:
        self._engine = engine
        self._producer_factory = producer_factory
        self._listen_dsn = listen_dsn
        self._schema = schema
        self._channel = notify_channel(schema)
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_hours = retention_hours
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.backlog = 0
        self.published_total = 0
        self.last_error: str | None = None
        self._tracer = tracer("trellis.outbox")
        m = meter("trellis.outbox")
        m.create_observable_gauge(
            "trellis.outbox.backlog",
            callbacks=[lambda _options: [_observation(self.backlog, schema)]],
            description="Outbox rows not yet acknowledged by Kafka",
        )
        self._published_counter = m.create_counter("trellis.outbox.published")

    async def run(self) -> None:
        """Publish until cancelled; back off while Kafka or Postgres is unreachable."""
        failures = 0
        last_purge = last_count = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._ensure_listener()
                # Cleared before the batch, not after: a row committed while it is published
                # wakes the next one at once instead of waiting for the poll interval.
                self._wake.clear()
                published = await self.publish_batch()
                failures = 0
                self.last_error = None
                if loop.time() - last_purge > 600:
                    last_purge = loop.time()
                    await self.purge()
                if published >= self._batch_size:
                    continue
                # A gauge for health and metrics: counted at most once a second, not after each
                # of the small batches a steady trickle of events makes.
                if loop.time() - last_count >= 1.0:
                    last_count = loop.time()
                    await self._refresh_backlog()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                # Capped low: the broker coming back is noticed only at the next try, and every
                # event written meanwhile waits for it (a 30 s cap held them up to 45 s).
                delay = min(5.0, 0.5 * 2 ** min(failures, 6)) * (0.5 + random.random())
                log.warning("outbox relay failed (%s); retrying in %.1fs", self.last_error, delay)
                await self._reset_producer()
                await self._close_listener()
                with contextlib.suppress(Exception):  # the database may be the one that is down
                    await self._refresh_backlog()
                await asyncio.sleep(delay)

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows were published."""
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_next_batch(self._schema, self._batch_size))).all()
            if not rows:
                return 0
            producer = await self._get_producer()
            deliveries = [await self._send(producer, row) for row in rows]
            # Every row must be acknowledged before any is marked: a failure rolls the batch back
            # and the whole batch is re-sent (the consumers' inbox drops the duplicates). The
            # producer retries a broker that went away for as long as it stays away, so the wait
            # is bounded: the outage then shows in `last_error` and the backlog.
            try:
                await asyncio.wait_for(asyncio.gather(*deliveries), _ACK_TIMEOUT_S)
            except TimeoutError as exc:
                raise TimeoutError(
                    f"Kafka did not acknowledge {len(rows)} events within {_ACK_TIMEOUT_S:g} s"
                ) from exc
            await conn.execute(
                outbox_message.update()
                .where(outbox_message.c.id.in_([row.id for row in rows]))
                .values(published_at=sa.func.now())
            )
        self.published_total += len(rows)
        self._published_counter.add(len(rows), {"schema": self._schema})
        return len(rows)

    async def _send(self, producer: AIOKafkaProducer, row: Any) -> asyncio.Future:
        parent = context_from_traceparent(row.traceparent)
        # Not made current: nothing runs inside it but the send, and attaching a context per
        # message showed in the relay's profile.
        span = self._tracer.start_span(
            f"{row.topic} publish",
            context=parent,
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": row.topic,
                "messaging.operation.type": "publish",
                "messaging.message.id": str(row.event_id),
                "messaging.kafka.message.key": row.key,
                "cloudevents.event_type": row.event_type,
            },
        )
        try:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span, parent))
            headers = [(k, v.encode()) for k, v in row.headers.items()]
            headers += [(k, v.encode()) for k, v in carrier.items()]
            return await producer.send(
                row.topic, value=row.payload, key=row.key.encode(), headers=headers
            )
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
            raise
        finally:
            span.end()

    async def purge(self) -> int:
        """Delete published rows older than the retention period."""
        if self._retention_hours <= 0:
            return 0
        async with self._engine.begin() as conn:
            result = await conn.execute(
                outbox_message.delete().where(
                    outbox_message.c.published_at
                    < datetime.now(UTC) - timedelta(hours=self._retention_hours)
                )
            )
        return result.rowcount or 0

    async def _refresh_backlog(self) -> None:
        async with self._engine.connect() as conn:
            self.backlog = await conn.scalar(
                sa.select(sa.func.count()).where(outbox_message.c.published_at.is_(None))
            )

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        # A fresh producer after a failure: the idempotent producer's sequence state may be stale.
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 10)
            except Exception:
                log.debug("producer stop failed", exc_info=True)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self._listen_dsn, timeout=5)
            await self._listener.add_listener(self._channel, lambda *_: self._wake.set())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            # The poll interval still drives publishing; LISTEN only makes it prompt.
            log.warning("outbox LISTEN unavailable (%s); polling", exc)
            self._listener = None

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.terminate()

    async def close(self) -> None:
        await self._close_listener()
        await self._reset_producer()


def _schema_key(schema: str) -> int:
    return zlib.crc32(schema.encode()) & 0x7FFFFFFF


def _observation(value: int, schema: str):
    from opentelemetry.metrics import Observation

    return Observation(value, {"schema": schema})
