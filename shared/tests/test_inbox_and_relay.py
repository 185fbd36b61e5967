"""The inbox consumer and the outbox relay against the real Postgres and Kafka.

They run on the notifications schema's own outbox and inbox tables, under consumer names of
their own, so they never disturb what the services record.
"""

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition
from sqlalchemy import exc as sa_exc

from trellis_infra.pytest_plugin import eventually
from trellis_shared.app import asyncpg_dsn
from trellis_shared.contracts.profiles import PersonErased, PersonRegistered
from trellis_shared.db import Row, create_engine, create_sessionmaker
from trellis_shared.events import dlq_topic, header_value
from trellis_shared.inbox import InboxConsumer, Subscriptions, is_transient
from trellis_shared.kafka import committed_offsets, create_consumer, create_producer, read_topic
from trellis_shared.messaging_tables import dead_letter, inbox_message, outbox_message
from trellis_shared.outbox import OutboxRelay, emit, notify_channel
from trellis_shared.settings import ServiceSettings


@pytest.fixture
async def db(stack):
    settings = ServiceSettings(**stack.service_settings("notifications"))
    engine = create_engine(settings)
    yield engine, create_sessionmaker(engine)
    await engine.dispose()


def _registered(person_id: uuid.UUID) -> PersonRegistered:
    return PersonRegistered(
        person_id=person_id,
        full_name="Test Person",
        email=f"{person_id.hex[:8]}@example.org",
        time_zone="UTC",
        locale="en",
        registered_at=datetime.now(UTC),
    )


async def _publish_via_outbox(
    engine, sessionmaker, bootstrap, people: list[uuid.UUID], tenant: uuid.UUID
):
    events = [_registered(person_id) for person_id in people]
    await _publish_events(engine, sessionmaker, bootstrap, events, tenant)


async def _publish_events(engine, sessionmaker, bootstrap, events: list, tenant: uuid.UUID):
    async with sessionmaker() as session, session.begin():
        for data in events:
            await emit(session, data, tenant=tenant, source="trellis/test")
    relay = _relay(engine, bootstrap)
    try:
        while await relay.publish_batch():
            pass
    finally:
        await relay.close()


def _relay(engine, bootstrap, batch_size=500, **options):
    return OutboxRelay(
        engine=engine,
        producer_factory=lambda: create_producer(bootstrap, client_id="test-relay"),
        listen_dsn=options.pop("listen_dsn", "postgresql://unused"),
        schema="notifications",
        batch_size=batch_size,
        **options,
    )


@contextlib.asynccontextmanager
async def _consuming(stack, sessionmaker, subscriptions, *, name, max_attempts=3, commit_s=0.0):
    """An inbox consumer of group `name` running until the block ends. `commit_s` holds each
    offset commit back that long before it goes to the broker (a slow group coordinator)."""

    def kafka_consumer(topics):
        kafka = create_consumer(stack.kafka_bootstrap, *topics, group_id=name, client_id=name)
        if commit_s:
            commit = kafka.commit

            async def slow_commit(offsets=None):
                await asyncio.sleep(commit_s)
                await commit(offsets)

            kafka.commit = slow_commit
        return kafka

    consumer = InboxConsumer(
        name=name,
        subscriptions=subscriptions,
        sessionmaker=sessionmaker,
        consumer_factory=kafka_consumer,
        producer_factory=lambda: create_producer(stack.kafka_bootstrap, client_id=f"{name}-dlq"),
        max_attempts=max_attempts,
        backoff_s=0.01,
        backoff_max_s=0.05,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.close()


async def test_a_handler_that_keeps_failing_sends_its_event_to_the_dlq_and_the_rest_flow(db, stack):
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    bad, good = uuid.uuid4(), [uuid.uuid4() for _ in range(4)]
    seen: dict[uuid.UUID, uuid.UUID] = {}  # event id -> person, for this tenant's events
    calls: dict[uuid.UUID, int] = {}
    subscriptions = Subscriptions()

    @subscriptions.on(PersonRegistered)
    async def handle(session, event):
        if event.tenant != tenant:
            return
        seen[event.id] = event.data.person_id
        calls[event.data.person_id] = calls.get(event.data.person_id, 0) + 1
        if event.data.person_id == bad:
            raise ValueError("this person breaks the handler")

    async def committed() -> list[uuid.UUID]:
        """This tenant's people whose handling committed: a batch rolled back by the bad event
        calls the handler for the good ones again, but only one call each commits. (The inbox
        also holds the other tenants' events the topic carries, skipped by the handler.)"""
        async with sessionmaker() as session:
            event_ids = await session.scalars(
                sa.select(inbox_message.c.event_id).where(inbox_message.c.consumer == name)
            )
            return sorted(seen[event_id] for event_id in event_ids if event_id in seen)

    name = f"test-failing-{uuid.uuid4().hex[:8]}"
    async with _consuming(stack, sessionmaker, subscriptions, name=name, max_attempts=3):
        await _publish_via_outbox(
            engine, sessionmaker, stack.kafka_bootstrap, [good[0], bad, *good[1:]], tenant
        )
        await eventually(committed, until=lambda people: len(people) == 4)
        # Keys spread over partitions, so the good ones may finish before the bad one's retries.
        await eventually(
            lambda: read_topic(
                stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=str(bad).encode()
            ),
            until=lambda records: any(
                header_value(r.headers, "dlq_consumer") == name for r in records
            ),
        )

    assert await committed() == sorted(good)
    assert calls[bad] == 3  # bounded retries, then the DLQ
    dead = await read_topic(
        stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=str(bad).encode()
    )
    mine = [r for r in dead if header_value(r.headers, "dlq_consumer") == name]
    assert len(mine) == 1
    assert header_value(mine[0].headers, "dlq_reason") == "handler-failed"
    assert header_value(mine[0].headers, "dlq_attempts") == "3"
    assert "this person breaks the handler" in header_value(mine[0].headers, "dlq_error")
    async with engine.connect() as conn:
        recorded = await conn.scalar(
            sa.select(sa.func.count())
            .where(inbox_message.c.consumer == name)
            .where(inbox_message.c.event_type == PersonRegistered.event_type)
        )
    assert (
        recorded >= 4
    )  # the good ones (and earlier events of other tenants) are recorded; the bad one is not


def _failing_on(bad: uuid.UUID) -> tuple[Subscriptions, dict[uuid.UUID, int]]:
    """Subscriptions whose handler counts its calls per person and always fails on `bad`."""
    calls: dict[uuid.UUID, int] = {}
    subscriptions = Subscriptions()

    @subscriptions.on(PersonRegistered)
    async def handle(session, event):
        calls[event.data.person_id] = calls.get(event.data.person_id, 0) + 1
        if event.data.person_id == bad:
            raise ValueError("this person breaks the handler")

    return subscriptions, calls


async def test_each_applied_fetch_is_committed_the_last_one_too_and_a_restart_replays_nothing(
    db, stack
):
    """Offsets are committed after each fetch's transaction, while the next fetch is applied; a
    consumer stopped just after its last transaction still commits that fetch's offsets, and the
    next consumer of its group starts after them: no event reaches a handler twice."""
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    calls: Counter[uuid.UUID] = Counter()
    event_ids: set[uuid.UUID] = set()
    subscriptions = Subscriptions()

    @subscriptions.on(PersonRegistered)
    async def handle(session, event):
        if event.tenant == tenant:
            calls[event.data.person_id] += 1
            event_ids.add(event.id)

    async def recorded(group: str) -> int:
        """How many of this test's events the group's inbox holds (committed transactions)."""
        async with engine.connect() as conn:
            return await conn.scalar(
                sa.select(sa.func.count()).where(
                    inbox_message.c.consumer == group, inbox_message.c.event_id.in_(list(event_ids))
                )
            )

    async def applied(people: list[uuid.UUID]) -> bool:
        return all(person in calls for person in people)

    name = f"test-commits-{uuid.uuid4().hex[:8]}"
    waves = [[uuid.uuid4() for _ in range(5)] for _ in range(3)]
    async with _consuming(stack, sessionmaker, subscriptions, name=name, commit_s=0.5) as first:
        for wave in waves:  # at least three fetches: commits overlap the next fetch's work
            await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, wave, tenant)
            await eventually(lambda w=wave: applied(w), until=bool)
        # Stopped as soon as the last wave's transaction is in, its offsets' commit in flight.
        await eventually(lambda: recorded(name), until=lambda n: n == 15, interval=0.01)
    assert first.duplicates_total == 0
    committed = await committed_offsets(stack.kafka_bootstrap, name)
    keys = {str(person).encode() for person in itertools.chain(*waves)}
    ours = [
        r
        for r in await read_topic(stack.kafka_bootstrap, PersonRegistered.topic())
        if r.key in keys
    ]
    assert len(ours) == len(keys)
    assert all(committed[TopicPartition(r.topic, r.partition)] > r.offset for r in ours)

    last = uuid.uuid4()
    async with _consuming(stack, sessionmaker, subscriptions, name=name) as second:
        await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, [last], tenant)
        await eventually(lambda: applied([last]), until=bool)
        assert second.duplicates_total == 0
    assert set(calls) == {*itertools.chain(*waves), last}
    assert set(calls.values()) == {1}


def _batch_consumer(stack, sessionmaker, subscriptions, name: str) -> InboxConsumer:
    """A consumer whose batches the test hands over itself (process_batch), 3 quick tries."""
    return InboxConsumer(
        name=name,
        subscriptions=subscriptions,
        sessionmaker=sessionmaker,
        consumer_factory=lambda topics: create_consumer(stack.kafka_bootstrap, *topics),
        producer_factory=lambda: create_producer(stack.kafka_bootstrap, client_id=f"{name}-dlq"),
        max_attempts=3,
        backoff_s=0.01,
        backoff_max_s=0.05,
    )


async def test_a_batch_applies_each_event_once_and_tries_a_failing_one_exactly_max_attempts(
    db, stack
):
    """A batch goes in one transaction; a failing handler rolls it back, and then the events
    before it, the failing one (its batch try counts) and the rest go on as before."""
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    people = [uuid.uuid4() for _ in range(6)]
    bad = people[2]
    subscriptions, calls = _failing_on(bad)

    await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, people, tenant)
    keys = {str(p).encode(): p for p in people}
    published = await read_topic(stack.kafka_bootstrap, PersonRegistered.topic())
    records = sorted(
        (r for r in published if r.key in keys), key=lambda r: people.index(keys[r.key])
    )
    assert len(records) == len(people)
    name = f"test-batch-{uuid.uuid4().hex[:8]}"
    consumer = _batch_consumer(stack, sessionmaker, subscriptions, name)
    try:
        # The first event delivered twice in the same batch (a redelivery after a crash).
        await consumer.process_batch([*records, records[0]])
        assert calls[bad] == 3
        assert (consumer.processed_total, consumer.duplicates_total) == (5, 1)
        assert consumer.dead_lettered_total == 1
        # The whole batch again (a replay): nothing is applied twice, nothing is called.
        calls.clear()
        good = [r for r in records if keys[r.key] != bad]
        await consumer.process_batch(good)
        assert calls == {}
        assert consumer.duplicates_total == 1 + len(good)
    finally:
        await consumer.close()
    async with engine.connect() as conn:
        recorded = await conn.scalars(
            sa.select(inbox_message.c.event_id).where(inbox_message.c.consumer == name)
        )
        assert len(set(recorded)) == 5
    dead = await read_topic(
        stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=str(bad).encode()
    )
    mine = [r for r in dead if header_value(r.headers, "dlq_consumer") == name]
    assert [header_value(r.headers, "dlq_attempts") for r in mine] == ["3"]


# Notifications' copy of people, as a projection test writes it (unqualified: the search_path).
_person_view = sa.Table(
    "person_view",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("organization_id", sa.Uuid),
    sa.Column("full_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)


def _names_at_erasure(subscriptions: Subscriptions) -> dict[uuid.UUID, str | None]:
    """Subscribe to erasures a handler that notes the person's name in `_person_view` then."""
    names: dict[uuid.UUID, str | None] = {}

    @subscriptions.on(PersonErased)
    async def erased(session, event):
        person = event.data.person_id
        names[person] = await session.scalar(
            sa.select(_person_view.c.full_name).where(_person_view.c.id == person)
        )

    return names


async def _published_records(db, stack, events: list, tenant: uuid.UUID) -> list:
    """Publish the events of people (through the outbox) and read back their records, in order."""
    engine, sessionmaker = db
    await _publish_events(engine, sessionmaker, stack.kafka_bootstrap, events, tenant)
    order = [(str(data.person_id).encode(), data.event_type) for data in events]
    published = await read_topic(stack.kafka_bootstrap, PersonRegistered.topic())
    mine = [r for r in published if (r.key, header_value(r.headers, "ce_type")) in order]
    records = sorted(mine, key=lambda r: order.index((r.key, header_value(r.headers, "ce_type"))))
    assert len(records) == len(order)
    return records


def _linked_spans(spans, name: str, consumer: str) -> list[list[str]]:
    """For each span `name`, the event ids of the process spans it links to (as many as its
    `trellis.inbox.events` attribute says)."""
    finished = spans.get_finished_spans()
    process = {
        s.context.span_id: s.attributes["messaging.message.id"]
        for s in finished
        if s.name.endswith(" process") and s.attributes["messaging.consumer.group.name"] == consumer
    }
    linked = [s for s in finished if s.name == name]
    assert [len(s.links) for s in linked] == [s.attributes["trellis.inbox.events"] for s in linked]
    return [[process[link.context.span_id] for link in s.links] for s in linked]


async def test_projected_rows_are_written_together_before_the_next_handler_and_failures_alone(
    db, stack, spans
):
    """Consecutive projected events of a batch become one write, made before any other handler
    runs (which reads it). A projection that raises is blamed on its event; a write the database
    refuses is tried again event by event; both go to the DLQ alone after 3 tries."""
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    a, b, c, d, e, raises, refused = (uuid.uuid4() for _ in range(7))
    projected: list[uuid.UUID] = []
    subscriptions = Subscriptions()
    names_at_erasure = _names_at_erasure(subscriptions)

    @subscriptions.projects(PersonRegistered)
    def person_row(event) -> Row:
        person = event.data.person_id
        projected.append(person)
        if person == raises:
            raise ValueError("this person breaks the projection")
        return Row(
            _person_view,
            {
                "id": person,
                "organization_id": event.tenant,
                "full_name": None if person == refused else f"Person {person.hex[:6]}",
                "email": event.data.email,
                "version": event.data.version,
            },
        )

    now = datetime.now(UTC)
    clean = [_registered(a), _registered(b), PersonErased(person_id=a, erased_at=now)]
    clean.append(_registered(c))
    failing = [_registered(raises), _registered(d), _registered(refused), _registered(e)]
    records = await _published_records(db, stack, clean + failing, tenant)

    name = f"test-projection-{uuid.uuid4().hex[:8]}"
    consumer = _batch_consumer(stack, sessionmaker, subscriptions, name)
    try:
        spans.clear()
        await consumer.process_batch(records[: len(clean)])
        # a's row was written with b's before the erasure handler ran, in the same transaction.
        assert names_at_erasure == {a: f"Person {a.hex[:6]}"}
        # Each write is a span linked to the spans of the events whose rows it wrote.
        ids = [header_value(r.headers, "ce_id") for r in records]
        # a and b before the erasure, then c
        assert _linked_spans(spans, "project rows", name) == [ids[:2], ids[3:4]]
        assert (consumer.processed_total, consumer.dead_lettered_total) == (4, 0)

        projected.clear()
        await consumer.process_batch(records[len(clean) :])
        # In the batch `raises` fails at once, which counts as its first of 3 tries. The rest go
        # as a batch again: their write fails, then d, refused (3 tries) and e each on its own.
        assert projected == [*[raises] * 3, d, refused, e, d, *[refused] * 3, e]
        assert (consumer.processed_total, consumer.dead_lettered_total) == (6, 2)
    finally:
        await consumer.close()
    async with engine.connect() as conn:
        stored = await conn.execute(
            sa.select(_person_view.c.id, _person_view.c.full_name).where(
                _person_view.c.organization_id == tenant
            )
        )
        assert dict(stored.all()) == {p: f"Person {p.hex[:6]}" for p in (a, b, c, d, e)}
    for person, error in ((raises, "breaks the projection"), (refused, "full_name")):
        dead = await read_topic(
            stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=str(person).encode()
        )
        letters = [r for r in dead if header_value(r.headers, "dlq_consumer") == name]
        assert [header_value(r.headers, "dlq_attempts") for r in letters] == ["3"]
        assert error in header_value(letters[0].headers, "dlq_error")


async def test_a_handler_of_many_gets_consecutive_events_of_its_type_and_failures_go_alone(
    db, stack, spans
):
    """The events of a batch with a handler for many are given to it together, each run of them
    before the next other event's handler (which reads what it wrote). When it fails on a batch
    each event is tried alone (given as a list of one): the good ones are applied once, the bad
    one goes to the DLQ after 3 tries."""
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    a, b, c, d, e, f, bad = (uuid.uuid4() for _ in range(7))
    calls: list[list[uuid.UUID]] = []
    subscriptions = Subscriptions()
    names_at_erasure = _names_at_erasure(subscriptions)

    @subscriptions.on_many(PersonRegistered)
    async def registered(session, events):
        calls.append([event.data.person_id for event in events])
        if bad in calls[-1]:
            raise ValueError("this person breaks the handler")
        rows = [
            {
                "id": event.data.person_id,
                "organization_id": event.tenant,
                "full_name": f"Person {event.data.person_id.hex[:6]}",
                "version": 1,
            }
            for event in events
        ]
        await session.execute(sa.insert(_person_view), rows)

    now = datetime.now(UTC)
    clean = [_registered(a), _registered(b), PersonErased(person_id=a, erased_at=now)]
    clean += [_registered(c), _registered(d)]
    failing = [_registered(e), _registered(bad), _registered(f)]
    records = await _published_records(db, stack, clean + failing, tenant)

    name = f"test-many-{uuid.uuid4().hex[:8]}"
    consumer = _batch_consumer(stack, sessionmaker, subscriptions, name)
    try:
        spans.clear()
        await consumer.process_batch(records[: len(clean)])
        assert calls == [[a, b], [c, d]]
        assert names_at_erasure == {a: f"Person {a.hex[:6]}"}
        ids = [header_value(r.headers, "ce_id") for r in records]
        assert _linked_spans(spans, "handle events", name) == [ids[:2], ids[3:5]]
        assert (consumer.processed_total, consumer.dead_lettered_total) == (5, 0)

        calls.clear()
        await consumer.process_batch(records[len(clean) :])
        assert calls == [[e, bad, f], [e], [bad], [bad], [bad], [f]]
        assert (consumer.processed_total, consumer.dead_lettered_total) == (7, 1)
    finally:
        await consumer.close()
    async with engine.connect() as conn:
        stored = await conn.scalars(
            sa.select(_person_view.c.id).where(_person_view.c.organization_id == tenant)
        )
        assert sorted(stored.all()) == sorted([a, b, c, d, e, f])
    dead = await read_topic(
        stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=str(bad).encode()
    )
    letters = [r for r in dead if header_value(r.headers, "dlq_consumer") == name]
    assert [header_value(r.headers, "dlq_attempts") for r in letters] == ["3"]


async def test_an_unreachable_database_is_retried_not_dead_lettered(db, stack):
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    person = uuid.uuid4()
    attempts = 0
    applied = []
    subscriptions = Subscriptions()

    @subscriptions.on(PersonRegistered)
    async def handle(session, event):
        nonlocal attempts
        if event.tenant != tenant:
            return
        attempts += 1
        if attempts <= 8:  # more failures than max_attempts: only a transient error survives that
            raise sa_exc.OperationalError(
                "SELECT 1", {}, ConnectionRefusedError("database is restarting")
            )
        applied.append(event.data.person_id)

    name = f"test-transient-{uuid.uuid4().hex[:8]}"
    async with _consuming(stack, sessionmaker, subscriptions, name=name, max_attempts=2):
        await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, [person], tenant)
        await eventually(lambda: asyncio.sleep(0, list(applied)), until=bool, timeout=60)
    assert applied == [person]
    assert attempts == 9


def test_transient_errors_are_told_apart_from_bugs():
    assert is_transient(ConnectionRefusedError())
    assert is_transient(sa_exc.OperationalError("x", {}, OSError("gone")))
    assert not is_transient(ValueError("bad data"))
    assert not is_transient(sa_exc.IntegrityError("x", {}, Exception("duplicate")))


async def test_concurrent_relays_publish_each_row_once_and_in_order(db, stack):
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    person = uuid.uuid4()  # one key: its events must stay in order
    async with sessionmaker() as session, session.begin():
        ids = []
        for _ in range(60):
            ids.append(
                (await emit(session, _registered(person), tenant=tenant, source="trellis/test")).id
            )

    relays = [_relay(engine, stack.kafka_bootstrap, batch_size=7) for _ in range(3)]

    async def drain(relay):
        while True:
            if not await relay.publish_batch():
                async with engine.connect() as conn:
                    left = await conn.scalar(
                        sa.select(sa.func.count()).where(
                            outbox_message.c.published_at.is_(None),
                            outbox_message.c.tenant == tenant,
                        )
                    )
                if not left:
                    return
                await asyncio.sleep(0.01)

    try:
        await asyncio.gather(*(drain(r) for r in relays))
    finally:
        for relay in relays:
            await relay.close()

    records = await read_topic(
        stack.kafka_bootstrap, PersonRegistered.topic(), key=str(person).encode()
    )
    published = [uuid.UUID(header_value(r.headers, "ce_id")) for r in records]
    assert published == ids


def _cli(stack, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "trellis_shared.cli", *args, "--bootstrap", stack.kafka_bootstrap],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


async def test_an_operator_lists_a_dead_letter_and_replays_it_after_the_fix(db, stack):
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    person = uuid.uuid4()
    broken = True
    applied: list[uuid.UUID] = []
    subscriptions = Subscriptions()

    @subscriptions.on(PersonRegistered)
    async def handle(session, event):
        if event.tenant != tenant:
            return
        if broken:
            raise RuntimeError("template missing")
        applied.append(event.data.person_id)

    name = f"test-replay-{uuid.uuid4().hex[:8]}"
    async with _consuming(
        stack, sessionmaker, subscriptions, name=name, max_attempts=2
    ) as consumer:
        await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, [person], tenant)
        await eventually(lambda: asyncio.sleep(0, consumer.dead_lettered_total), until=bool)

        listed = [
            json.loads(line)
            for line in (
                await asyncio.to_thread(
                    _cli, stack, "dlq", "list", PersonRegistered.topic(), "--limit", "100000"
                )
            ).splitlines()
        ]
        # A new group reads the topic from its start: malformed records other tests left there
        # are dead-lettered by this consumer too (and replayed with its own).
        mine = [e for e in listed if e["consumer"] == name]
        [entry] = [e for e in mine if e["reason"] != "malformed"]
        assert entry["reason"] == "handler-failed"
        assert "template missing" in entry["error"]

        broken = False  # the fix is deployed
        out = await asyncio.to_thread(
            _cli, stack, "dlq", "replay", PersonRegistered.topic(), "--consumer", name
        )
        assert out.strip() == f"replayed {len(mine)} message(s) to {PersonRegistered.topic()}"
        await eventually(lambda: asyncio.sleep(0, list(applied)), until=bool)

        # Replaying again is harmless: the inbox already holds the event.
        duplicates_before = consumer.duplicates_total
        await asyncio.to_thread(
            _cli, stack, "dlq", "replay", PersonRegistered.topic(), "--consumer", name
        )
        await eventually(
            lambda: asyncio.sleep(0, consumer.duplicates_total),
            until=lambda d: d > duplicates_before,
        )
    assert applied == [person]


async def test_a_replayed_batch_sends_each_bad_record_to_the_dlq_once(db, stack):
    """A batch whose offset commit was lost (a rebalance, a crash) is read again, by the same
    consumer or by two owners at once: each malformed or failing record goes to the DLQ once."""
    engine, sessionmaker = db
    tenant = uuid.uuid4()
    people = [uuid.uuid4() for _ in range(4)]
    bad = people[1]
    subscriptions, calls = _failing_on(bad)

    await _publish_via_outbox(engine, sessionmaker, stack.kafka_bootstrap, people, tenant)
    garbled = f"garbled-{uuid.uuid4().hex}".encode()
    producer = create_producer(stack.kafka_bootstrap, client_id="test-garbled")
    await producer.start()
    try:
        await producer.send_and_wait(
            PersonRegistered.topic(),
            value=b"{not json",
            key=garbled,
            headers=[("ce_type", PersonRegistered.event_type.encode())],
        )
    finally:
        await producer.stop()
    keys = {str(p).encode() for p in people} | {garbled}
    records = [
        r
        for r in await read_topic(stack.kafka_bootstrap, PersonRegistered.topic())
        if r.key in keys
    ]
    assert len(records) == len(people) + 1
    name = f"test-replay-dlq-{uuid.uuid4().hex[:8]}"

    first, second = (_batch_consumer(stack, sessionmaker, subscriptions, name) for _ in range(2))
    try:
        # Two owners of the partition at once (the old one still finishing after a rebalance).
        await asyncio.gather(first.process_batch(records), second.process_batch(records))
        assert first.dead_lettered_total + second.dead_lettered_total == 2
        assert first.processed_total + second.processed_total == len(people) - 1
        tried = calls[bad]
        assert 3 <= tried <= 6
        # The same batch again (its commit was lost): the failing event is not retried in full.
        await first.process_batch(records)
        assert calls[bad] == tried + 1
        assert first.dead_lettered_total + second.dead_lettered_total == 2
        assert first.processed_total + second.processed_total == len(people) - 1
    finally:
        await first.close()
        await second.close()

    dlq = await read_topic(stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()))
    mine = Counter(r.key for r in dlq if header_value(r.headers, "dlq_consumer") == name)
    assert mine == {garbled: 1, str(bad).encode(): 1}
    async with engine.connect() as conn:
        ledger = (
            await conn.execute(
                sa.select(dead_letter.c.reason, dead_letter.c.event_id).where(
                    dead_letter.c.consumer == name
                )
            )
        ).all()
    assert sorted(ledger, key=lambda row: row.reason) == [
        (
            "handler-failed",
            next(
                uuid.UUID(header_value(r.headers, "ce_id"))
                for r in records
                if r.key == str(bad).encode()
            ),
        ),
        ("malformed", None),
    ]


async def test_an_emitted_event_wakes_the_relay_at_commit_and_never_on_rollback(db, stack):
    engine, sessionmaker = db
    channel = f"test_outbox_{uuid.uuid4().hex[:8]}"
    settings = ServiceSettings(**stack.service_settings("notifications"))
    listener = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    woken: asyncio.Queue = asyncio.Queue()
    await listener.add_listener(channel, lambda _conn, _pid, name, _payload: woken.put_nowait(name))
    try:
        tenant = uuid.uuid4()
        with contextlib.suppress(RuntimeError):
            async with sessionmaker() as session, session.begin():
                await emit(
                    session, _registered(uuid.uuid4()), tenant=tenant, source="t", channel=channel
                )
                raise RuntimeError("rolled back")
        async with sessionmaker() as session, session.begin():
            event_ = await emit(
                session, _registered(uuid.uuid4()), tenant=tenant, source="t", channel=channel
            )
        assert await asyncio.wait_for(woken.get(), 10) == channel
        await asyncio.sleep(0.5)
        assert woken.empty()  # one wake-up: the rolled-back event sent none
        async with engine.connect() as conn:
            stored = await conn.scalar(
                sa.select(sa.func.count()).where(outbox_message.c.tenant == tenant)
            )
        assert stored == 1 and event_.tenant == tenant
    finally:
        await listener.close()


async def test_an_event_committed_while_the_relay_publishes_goes_out_at_once(db, stack):
    """Its NOTIFY arrives during the batch; the relay must not sleep through it until the poll
    interval (two minutes here) runs out."""
    engine, sessionmaker = db
    settings = ServiceSettings(**stack.service_settings("notifications"))
    relay = _relay(
        engine,
        stack.kafka_bootstrap,
        listen_dsn=asyncpg_dsn(settings.database_url),
        poll_interval_s=120,
    )
    tenant, late = uuid.uuid4(), uuid.uuid4()
    publish_batch, batches = relay.publish_batch, 0

    async def another_commits_meanwhile() -> int:
        nonlocal batches
        batches += 1
        published = await publish_batch()
        if batches == 1:
            async with sessionmaker() as session, session.begin():
                await emit(
                    session,
                    _registered(late),
                    tenant=tenant,
                    source="trellis/test",
                    channel=notify_channel("notifications"),
                )
            await asyncio.wait_for(relay._wake.wait(), 10)  # its NOTIFY reached the relay
        return published

    relay.publish_batch = another_commits_meanwhile

    async def published_at():
        async with engine.connect() as conn:
            return await conn.scalar(
                sa.select(outbox_message.c.published_at).where(outbox_message.c.tenant == tenant)
            )

    task = asyncio.create_task(relay.run())
    try:
        await eventually(published_at, until=lambda at: at is not None, timeout=20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relay.close()
