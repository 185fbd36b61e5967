"""Inbox-guarded consumers: each event's effects and its id commit in one transaction.

Offsets are committed only after that commit, so a crash replays events and the inbox drops the
ones already applied: at least once on the wire, exactly once in effect. A handler that keeps
failing is retried with backoff a bounded number of times, then its event goes to `<topic>.dlq`
with the error in its headers. A message that cannot be decoded goes to the DLQ at once.
An unreachable database is not the event's fault: it is retried until the database is back.
Every DLQ write is recorded in the `dead_letter` table by the record's place in the log, in a
transaction held across the publish, so a replayed record goes to the DLQ once.

Events are applied a partition's batch at a time: one transaction records every new id in the inbox
and runs the handlers in order, then the batch's offsets are committed, sent while the next batch is
applied (one commit in flight, carrying every offset applied since the last). One event per
transaction spent most of a consumer's time on BEGIN, the inbox INSERT and COMMIT round trips. A
batch that fails is rolled back whole: the event whose handler failed is retried on its own (the
batch's try counts as its first, so it still gets exactly `max_attempts` before the DLQ) and its
neighbours go again in batches; a failure no event can be blamed for (the INSERT, the COMMIT) falls
back to one event per transaction. One bad event costs its neighbours a second attempt, never their
effects.

A projection (`Subscriptions.projects`: the event is one row of a read model, upserted if newer)
has no handler call in a batch: the rows of consecutive projected events are written together, one
statement per table, before the next other handler runs or the batch commits. A consumer that
mostly copies another service's entities spends a fraction of the time per event that way.
Likewise a handler registered with `Subscriptions.on_many` is given a batch's consecutive events
of its type together, and makes its reads and writes once for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry import trace
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trellis_shared.db import Row, upsert_all_if_newer, upsert_if_newer
from trellis_shared.events import (
    Event,
    EventContract,
    MalformedEvent,
    dlq_topic,
    from_kafka,
    topic_of,
)
from trellis_shared.messaging_tables import dead_letter, inbox_message
from trellis_shared.telemetry import context_from_headers, meter, tracer

log = logging.getLogger("trellis.inbox")

Handler = Callable[[AsyncSession, Event[Any]], Awaitable[None]]
ManyHandler = Callable[[AsyncSession, list[Event[Any]]], Awaitable[None]]
Projection = Callable[[Event[Any]], Row]
_Ready = tuple[ConsumerRecord, Event[Any], Handler]


@dataclass
class Subscriptions:
    """Every event a service consumes, mapped to its handler."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    projections: dict[str, Projection] = field(default_factory=dict)
    many: dict[str, ManyHandler] = field(default_factory=dict)

    def on(self, contract: type[EventContract]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if contract.event_type in self.handlers:
                raise ValueError(f"{contract.event_type} already has a handler")
            self.handlers[contract.event_type] = handler
            return handler

        return register

    def projects(self, contract: type[EventContract]) -> Callable[[Projection], Projection]:
        """Register a projection: the event is one row of a read model, upserted if newer.

        Its handler is `upsert_if_newer` of that row; in a batch, the rows of consecutive
        projected events are written together (`upsert_all_if_newer`), one statement per table
        rather than one per event.
        """

        def register(projection: Projection) -> Projection:
            async def handler(session: AsyncSession, event_: Event[Any]) -> None:
                row = projection(event_)
                await upsert_if_newer(session, row.table, row.values)

            self.on(contract)(handler)
            self.projections[contract.event_type] = projection
            return projection

        return register

    def on_many(self, contract: type[EventContract]) -> Callable[[ManyHandler], ManyHandler]:
        """Register a handler given a batch's consecutive events of this type together.

        It must leave what handling them one after another would, so that its reads and
        writes can be made once for all of them. Alone (a retry, a batch of one) it is given
        a list of one. If it fails on a batch, no one event is blamed: each is tried alone.
        """

        def register(handler: ManyHandler) -> ManyHandler:
            async def one(session: AsyncSession, event_: Event[Any]) -> None:
                await handler(session, [event_])

            self.on(contract)(one)
            self.many[contract.event_type] = handler
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        return sorted({topic_of(event_type) for event_type in self.handlers})


def is_transient(exc: BaseException) -> bool:
    """Failures of the infrastructure rather than of the event: retried without limit."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    cause = exc.__cause__ or exc.__context__
    transient = (
        OSError,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.InterfaceError,
    )
    if isinstance(exc, transient):
        return True
    return cause is not None and cause is not exc and is_transient(cause)


class InboxConsumer:
    """Runs one consumer group over the subscriptions' topics."""

    def __init__(
        self,
        *,
        name: str,
        subscriptions: Subscriptions,
        sessionmaker: async_sessionmaker,
        consumer_factory: Callable[[list[str]], AIOKafkaConsumer],
        producer_factory: Callable[[], AIOKafkaProducer],
        max_attempts: int = 5,
        backoff_s: float = 0.2,
        backoff_max_s: float = 10.0,
        batch_size: int = 200,
    ) -> None:
        self.name = name
        self._subscriptions = subscriptions
        self._sessionmaker = sessionmaker
        self._consumer_factory = consumer_factory
        self._producer_factory = producer_factory
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._batch_size = batch_size
        self._dlq_producer: AIOKafkaProducer | None = None
        self._tracer = tracer("trellis.inbox")
        m = meter("trellis.inbox")
        self._processed = m.create_counter("trellis.inbox.processed")
        self._dead_lettered = m.create_counter("trellis.inbox.dead_lettered")
        self.processed_total = 0
        self.duplicates_total = 0
        self.dead_lettered_total = 0
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled, reconnecting after broker outages."""
        topics = self._subscriptions.topics
        while True:
            consumer = self._consumer_factory(topics)
            try:
                await consumer.start()
                self.running = True
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s failed; restarting", self.name)
                await asyncio.sleep(1 + random.random())
            finally:
                self.running = False
                try:
                    await asyncio.wait_for(consumer.stop(), 10)
                except Exception:
                    log.debug("consumer stop failed", exc_info=True)

    async def close(self) -> None:
        producer, self._dlq_producer = self._dlq_producer, None
        if producer is not None:
            await producer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        # Offsets of applied fetches not yet handed to the coordinator. One commit at a time goes
        # out while the next fetches are applied (that round trip was a third of a busy
        # consumer's cycle) and carries every offset applied since the last one.
        applied: dict[TopicPartition, int] = {}
        committer: asyncio.Task[None] | None = None

        async def commit_applied() -> None:
            while applied:
                offsets = dict(applied)
                applied.clear()
                await self._commit(consumer, offsets)

        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=self._batch_size)
                # Partitions revoked since the fetch are skipped: their new owner reads them again.
                owned = {tp: rs for tp, rs in batches.items() if tp in consumer.assignment()}
                if not owned:
                    continue
                # The whole fetch in one transaction (each partition's records in their order),
                # and only then its offsets: a crash replays what was applied since the last
                # commit that landed, and the inbox drops it.
                await self.process_batch([record for rs in owned.values() for record in rs])
                applied.update({tp: rs[-1].offset + 1 for tp, rs in owned.items()})
                if committer is None or committer.done():
                    if committer is not None:
                        committer.result()  # a commit that failed restarts the consumer
                    committer = asyncio.create_task(commit_applied())
        finally:
            if committer is not None:
                # Stopping or failing: what was applied is still committed if it can be.
                await asyncio.wait([committer], timeout=10)
                if not committer.done():
                    committer.cancel()
                elif not committer.cancelled() and (error := committer.exception()):
                    log.warning("last offsets not committed (%s); they are replayed", error)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        # Partitions revoked while the batch ran (a rebalance) are left to their new owners, who
        # replay them; the inbox drops what was applied. Restarting the consumer would only
        # cause another rebalance.
        kept = {tp: offset for tp, offset in offsets.items() if tp in consumer.assignment()}
        try:
            if kept:
                await consumer.commit(kept)
        except (IllegalStateError, CommitFailedError) as exc:
            log.warning("offsets %s not committed (%s); they are replayed", kept, exc)
            return
        if revoked := sorted(str(tp) for tp in offsets.keys() - kept.keys()):
            log.warning("offsets of %s not committed (revoked); they are replayed", revoked)

    async def process_batch(self, records: list[ConsumerRecord]) -> None:
        """Apply records (each partition's in order) exactly once in effect, or dead-letter them."""
        ready: list[_Ready] = []
        malformed: list[_DeadLetter] = []
        for record in records:
            decoded = self._decode(record)
            if isinstance(decoded, MalformedEvent):
                with self._span(record) as span:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, str(decoded)))
                malformed.append(self._dead_letter_of(record, "malformed", str(decoded)))
            elif decoded is not None:
                ready.append((record, *decoded))
        if malformed:
            await self._send_to_dlq(malformed)
        await self._apply_in_order(ready)

    async def _apply_in_order(self, ready: list[_Ready]) -> None:
        while ready:
            if len(ready) == 1:
                await self._apply_alone(ready[0])
                return
            failed = await self._apply_together(ready)
            if failed is None:
                return
            at, exc = failed
            if at is None:  # not any one event's fault (the inbox INSERT, the COMMIT)
                for item in ready:
                    await self._apply_alone(item)
                return
            # Rolled back with the failure: what came before it, the failed event on its own (the
            # batch's try counts as its first), and the rest as a batch again.
            await self._apply_in_order(ready[:at])
            tried = 0 if is_transient(exc) else 1
            await self._apply_alone(ready[at], tried=tried, first_error=exc)
            ready = ready[at + 1 :]

    async def _apply_alone(
        self, item: _Ready, *, tried: int = 0, first_error: Exception | None = None
    ) -> None:
        record, event_, handler = item
        with self._span(record) as span:
            self._describe(span, event_)
            if tried and first_error is not None:
                if await self._gave_up(record, event_, first_error, tried, span):
                    return
                await asyncio.sleep(self._delay(tried))
            await self._apply(record, event_, handler, span, attempt=tried)

    async def process(self, record: ConsumerRecord) -> None:
        """Apply one record exactly once in effect, or dead-letter it."""
        await self.process_batch([record])

    def _span(self, record: ConsumerRecord, **options: Any):
        headers = record.headers or []
        parent = context_from_headers(
            {k: v.decode("utf-8", "replace") for k, v in headers if v is not None}
        )
        return self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.name,
                "messaging.kafka.offset": record.offset,
                "messaging.destination.partition.id": str(record.partition),
            },
            **options,
        )

    @staticmethod
    def _describe(span, event_: Event[Any]) -> None:
        span.set_attribute("messaging.message.id", str(event_.id))
        span.set_attribute("cloudevents.event_type", event_.type)

    def _decode(self, record: ConsumerRecord) -> tuple[Event[Any], Handler] | MalformedEvent | None:
        """The event and its handler, why it is malformed, or None for what this consumer skips."""
        headers = list(record.headers or [])
        try:
            event_ = from_kafka(headers, record.key, record.value)
        except MalformedEvent as exc:
            if self._is_foreign(headers):
                return None  # not ours to judge: an event type this service does not consume
            return exc
        handler = self._subscriptions.handlers.get(event_.type)
        return None if handler is None else (event_, handler)

    async def _apply_together(self, ready: list[_Ready]) -> tuple[int | None, Exception] | None:
        """Every event in one transaction. On failure nothing is applied, and the answer is the
        index of the event whose handler failed (None if no handler did) and the error."""
        applied: list[Event[Any]] = []
        projections, many = self._subscriptions.projections, self._subscriptions.many
        # Rows of the projected events since the last handler, or the events of one type whose
        # handler takes many since the last other event; each with its event's span. At most
        # one of the two holds anything at a time.
        projected: list[tuple[Row, trace.SpanContext]] = []
        gathered: list[tuple[Event[Any], trace.SpanContext]] = []
        at = None
        try:
            async with self._sessionmaker() as session, session.begin():
                rows = [
                    {"consumer": self.name, "event_id": e.id, "event_type": e.type}
                    for _, e, _ in ready
                ]
                fresh = set(await session.scalars(_RECORD, rows))
                for index, (record, event_, handler) in enumerate(ready):
                    projection = projections.get(event_.type)
                    # What was set aside goes before the next event of another kind: its handler
                    # may read it. A failure there is no one event's fault; each is then tried
                    # on its own.
                    at = None
                    if gathered and event_.type != gathered[0][0].type:
                        await self._handle_many(session, gathered)
                        gathered.clear()
                    if projected and projection is None:
                        await self._project(session, projected)
                        projected.clear()
                    at = index
                    # A failure is retried on its own, where its span records it.
                    with self._span(
                        record, record_exception=False, set_status_on_exception=False
                    ) as span:
                        self._describe(span, event_)
                        span.set_attribute("trellis.inbox.batch_size", len(ready))
                        if event_.id not in fresh:  # applied before, or twice in this batch
                            span.set_attribute("trellis.inbox.duplicate", True)
                            continue
                        fresh.discard(event_.id)
                        applied.append(event_)
                        if projection is not None:
                            projected.append((projection(event_), span.get_span_context()))
                        elif event_.type in many:
                            gathered.append((event_, span.get_span_context()))
                        else:
                            await handler(session, event_)
                            await self._settle(session)
                at = None  # neither what was set aside nor the COMMIT is one event's fault
                if gathered:
                    await self._handle_many(session, gathered)
                if projected:
                    await self._project(session, projected)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return at, exc
        self.duplicates_total += len(ready) - len(applied)
        self.processed_total += len(applied)
        for event_ in applied:
            self._processed.add(1, {"consumer": self.name, "event_type": event_.type})
        return None

    @staticmethod
    async def _settle(session: AsyncSession) -> None:
        # The next handler starts from the database, as in its own transaction (a Core UPDATE
        # here would leave an ORM object of the last one stale).
        await session.flush()
        session.expunge_all()

    async def _project(
        self, session: AsyncSession, projected: list[tuple[Row, trace.SpanContext]]
    ) -> None:
        """Write projected rows together, in a span linked to each of their events' spans."""
        with self._linked_span("project rows", [context for _, context in projected]):
            await upsert_all_if_newer(session, [row for row, _ in projected])

    async def _handle_many(
        self, session: AsyncSession, gathered: list[tuple[Event[Any], trace.SpanContext]]
    ) -> None:
        """Give events of one type to their handler together, in a span linked to theirs."""
        event_type = gathered[0][0].type
        with self._linked_span(
            "handle events", [context for _, context in gathered], event_type=event_type
        ):
            await self._subscriptions.many[event_type](session, [e for e, _ in gathered])
            await self._settle(session)

    def _linked_span(
        self, name: str, contexts: list[trace.SpanContext], *, event_type: str | None = None
    ):
        attributes: dict[str, Any] = {
            "messaging.consumer.group.name": self.name,
            "trellis.inbox.events": len(contexts),
        }
        if event_type is not None:
            attributes["cloudevents.event_type"] = event_type
        return self._tracer.start_as_current_span(
            name, links=[trace.Link(context) for context in contexts], attributes=attributes
        )

    def _is_foreign(self, headers: list[tuple[str, bytes]]) -> bool:
        for key, raw in headers:
            if key == "ce_type" and raw is not None:
                return raw.decode("utf-8", "replace") not in self._subscriptions.handlers
        return False

    async def _apply(
        self,
        record: ConsumerRecord,
        event_: Event[Any],
        handler: Handler,
        span,
        *,
        attempt: int = 0,
    ) -> None:
        while True:
            try:
                async with self._sessionmaker() as session, session.begin():
                    inserted = await session.scalar(
                        _RECORD,
                        {"consumer": self.name, "event_id": event_.id, "event_type": event_.type},
                    )
                    if inserted is None:
                        self.duplicates_total += 1
                        span.set_attribute("trellis.inbox.duplicate", True)
                        return
                    await handler(session, event_)
                self.processed_total += 1
                self._processed.add(1, {"consumer": self.name, "event_type": event_.type})
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    log.warning("transient failure handling %s (%s); retrying", event_.id, exc)
                    await asyncio.sleep(self._delay(min(attempt, 6)))
                    attempt = min(attempt + 1, 6)
                    continue
                attempt += 1
                if await self._gave_up(record, event_, exc, attempt, span):
                    return
                await asyncio.sleep(self._delay(attempt))

    async def _gave_up(
        self, record: ConsumerRecord, event_: Event[Any], exc: Exception, attempt: int, span
    ) -> bool:
        """After a handler's `attempt`-th failure: dead-letter the event if that was the last."""
        if attempt == 1 and await self._in_dlq(record):
            return True  # a replay of a record given up on before: its retries were spent then
        if attempt < self._max_attempts:
            log.warning(
                "handler for %s failed (attempt %d/%d): %s",
                event_.type,
                attempt,
                self._max_attempts,
                exc,
                extra={"event_id": event_.id, "event_type": event_.type},
            )
            return False
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        letter = self._dead_letter_of(
            record,
            "handler-failed",
            f"{type(exc).__name__}: {exc}",
            stack="".join(traceback.format_exception(exc))[-2000:],
            attempts=attempt,
            event_id=event_.id,
        )
        await self._send_to_dlq([letter])
        return True

    async def _in_dlq(self, record: ConsumerRecord) -> bool:
        try:
            async with self._sessionmaker() as session:
                found = await session.scalar(
                    sa.select(dead_letter.c.offset).where(
                        dead_letter.c.consumer == self.name,
                        dead_letter.c.topic == record.topic,
                        dead_letter.c.partition == record.partition,
                        dead_letter.c.offset == record.offset,
                        dead_letter.c.record_timestamp == record.timestamp,
                    )
                )
        except Exception:  # only a shortcut: the DLQ write itself is what makes it once
            log.debug("dead-letter lookup failed", exc_info=True)
            return False
        return found is not None

    def _delay(self, attempt: int) -> float:
        return min(self._backoff_max_s, self._backoff_s * 2**attempt) * (0.5 + random.random())

    def _dead_letter_of(
        self,
        record: ConsumerRecord,
        reason: str,
        error: str,
        *,
        stack: str = "",
        attempts: int = 0,
        event_id: Any = None,
    ) -> _DeadLetter:
        headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq_")]
        headers += [
            ("dlq_reason", reason.encode()),
            ("dlq_error", error[:4000].encode("utf-8", "replace")),
            ("dlq_consumer", self.name.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_attempts", str(attempts).encode()),
        ]
        if stack:
            headers.append(("dlq_stack", stack.encode("utf-8", "replace")))
        mark = {
            "consumer": self.name,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "record_timestamp": record.timestamp,
            "reason": reason,
            "event_id": event_id,
        }
        return _DeadLetter(record, headers, mark, f"{reason} ({error})")

    async def _send_to_dlq(self, letters: list[_DeadLetter]) -> None:
        """Publish each record to its DLQ unless the ledger says it is there already."""
        failures = 0
        while True:  # the offset is not committed until the DLQ holds the messages
            try:
                # The ledger rows are claimed in a transaction held across the publish: a replay of
                # these records finds them and sends nothing, and a second owner reading them at
                # the same time (a rebalance) waits for this one's commit, then finds them too.
                async with self._sessionmaker() as session, session.begin():
                    # Bounded: if that commit never comes (its publish hangs), fail and retry.
                    await session.execute(_CLAIM_LOCK_TIMEOUT)
                    claimed = {
                        tuple(row)
                        for row in await session.execute(
                            insert(dead_letter)
                            .values([letter.mark for letter in letters])
                            .on_conflict_do_nothing()
                            .returning(
                                dead_letter.c.topic,
                                dead_letter.c.partition,
                                dead_letter.c.offset,
                            )
                        )
                    }
                    sending = []
                    for letter in letters:  # a record twice in the batch is sent once
                        if _place(letter.record) in claimed:
                            claimed.discard(_place(letter.record))
                            sending.append(letter)
                    if sending:
                        if self._dlq_producer is None:
                            producer = self._producer_factory()
                            await producer.start()
                            self._dlq_producer = producer
                        sent = [
                            await self._dlq_producer.send(
                                dlq_topic(letter.record.topic),
                                value=letter.record.value,
                                key=letter.record.key,
                                headers=letter.headers,
                            )
                            for letter in sending
                        ]
                        await asyncio.gather(*sent)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("dead-lettering failed (%s); retrying", exc)
                await self.close()
                await asyncio.sleep(self._delay(min(failures, 6)))
        for letter in letters:
            record = letter.record
            if letter not in sending:
                log.info("%s[%d]@%d is in the DLQ already", *_place(record))
                continue
            log.error("dead-lettered %s[%d]@%d: %s", *_place(record), letter.why)
            self.dead_lettered_total += 1
            self._dead_lettered.add(1, {"consumer": self.name, "reason": letter.mark["reason"]})


_CLAIM_LOCK_TIMEOUT = sa.text("SET LOCAL lock_timeout = '30s'")


# An event's id into the inbox, answering it only if new; for one event or a batch's many. Built
# once: an event on its own (a quiet topic's usual batch) spent ~7% of its CPU building it.
_RECORD = (
    insert(inbox_message)
    .values(
        {
            name: sa.bindparam(name, type_=inbox_message.c[name].type)
            for name in ("consumer", "event_id", "event_type")
        }
    )
    .on_conflict_do_nothing()
    .returning(inbox_message.c.event_id)
)


def _place(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


@dataclass(eq=False)
class _DeadLetter:
    """A record on its way to the DLQ: its headers there and its row in the ledger."""

    record: ConsumerRecord
    headers: list[tuple[str, bytes]]
    mark: dict[str, Any]
    why: str


__all__ = ["Handler", "InboxConsumer", "Subscriptions", "is_transient"]
