"""The consumer gives notifications a fetch's consecutive events of one type together
(`Subscriptions.on_many`): a batch must leave exactly what the same events leave one at a time,
each person's message in their own words, on their own channels, to their own partners."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka import ConsumerRecord

from trellis_notifications.handlers import subscriptions
from trellis_notifications.preferences.models import Preference
from trellis_notifications.webhooks.models import WebhookSubscription
from trellis_shared.contracts import profiles as p
from trellis_shared.events import Event, to_kafka
from trellis_shared.inbox import InboxConsumer

# (name, locale, whether they switched off account email)
PEOPLE = [
    ("Ada Lovelace", "en", False),
    ("Grace Hopper", "en", True),
    ("Mateo García", "es", False),
    ("Lucía Pérez", "es", True),
]


def _record(event: Event, offset: int) -> ConsumerRecord:
    message = to_kafka(event)
    return ConsumerRecord(
        topic=event.topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=message.key.encode(),
        value=message.value,
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=-1,
        headers=list(message.headers.items()),
    )


async def _register(sessionmaker, orgs: list[uuid.UUID]) -> list[Event]:
    """Each of PEOPLE registered in each organization, with their email switches stored first."""
    events = []
    for org in orgs:
        for name, locale, no_email in PEOPLE:
            person = uuid.uuid4()
            events.append(
                Event.new(
                    p.PersonRegistered(
                        person_id=person,
                        full_name=name,
                        email=f"{person.hex[:10]}@example.org",
                        time_zone="America/Bogota",
                        locale=locale,
                        registered_at=datetime.now(UTC),
                    ),
                    tenant=org,
                    source="trellis/profiles",
                )
            )
            if no_email:
                async with sessionmaker() as session, session.begin():
                    session.add(
                        Preference(
                            person_id=person,
                            organization_id=org,
                            channels={"account": {"email": False}},
                        )
                    )
    return events


async def _left(sessionmaker, events: list[Event]) -> list[tuple]:
    """What each event left, in its order, without its own ids: inbox item, email, deliveries."""
    left = []
    async with sessionmaker() as session:
        for event in events:
            person = event.data.person_id
            inbox = await session.execute(
                sa.text(
                    "SELECT kind, category, title, body, replace(link, :p, 'P') AS link"
                    " FROM inbox_item WHERE person_id = :id AND source_event_id = :e"
                ),
                {"p": str(person), "id": person, "e": event.id},
            )
            email = await session.execute(
                sa.text(
                    "SELECT template, locale, status, to_address = :address AS to_them,"
                    " context -> 'recipient' ->> 'name' AS name,"
                    " replace(context ->> 'link', :p, 'P') AS link"
                    " FROM email_delivery WHERE person_id = :id AND source_id = :e"
                ),
                {"p": str(person), "id": person, "e": event.id, "address": event.data.email},
            )
            hooks = await session.scalar(
                sa.text("SELECT count(*) FROM webhook_delivery WHERE event_id = :e"),
                {"e": event.id},
            )
            left.append((inbox.all(), email.all(), hooks))
    return left


async def test_a_batch_of_registrations_leaves_what_they_leave_one_at_a_time(stack, sessionmaker):
    """Eight registrations in two organizations, one of which has a partner listening: in one
    batch and one by one, each person gets their welcome in their language, by email unless they
    switched it off, and the partner a delivery of each of its organization's events only."""
    listening, quiet = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        session.add(
            WebhookSubscription(
                organization_id=listening,
                url="https://partner.example.org/hooks",
                event_types=[p.PersonRegistered.event_type],
                secret="whsec_test",
                created_by="test",
            )
        )
    consumer = InboxConsumer(
        name=f"test-batches-{uuid.uuid4().hex[:8]}",
        subscriptions=subscriptions,
        sessionmaker=sessionmaker,
        consumer_factory=lambda topics: None,
        producer_factory=lambda: None,
    )
    together = await _register(sessionmaker, [listening, quiet])
    await consumer.process_batch([_record(e, i) for i, e in enumerate(together)])
    alone = await _register(sessionmaker, [listening, quiet])
    for i, event in enumerate(alone):
        await consumer.process_batch([_record(event, i)])
    assert (consumer.processed_total, consumer.dead_lettered_total) == (16, 0)

    batched, one_by_one = await _left(sessionmaker, together), await _left(sessionmaker, alone)
    assert batched == one_by_one
    assert [inbox[0].title for inbox, _, _ in batched[:4]] == [
        "Welcome to Trellis, Ada",
        "Welcome to Trellis, Grace",
        "Te damos la bienvenida a Trellis, Mateo",
        "Te damos la bienvenida a Trellis, Lucía",
    ]
    emails = [[(e.locale, e.name, e.to_them) for e in email] for _, email, _ in batched]
    assert emails[:4] == [
        [("en", "Ada Lovelace", True)],
        [],
        [("es", "Mateo García", True)],
        [],
    ]
    assert [hooks for _, _, hooks in batched] == [1] * 4 + [0] * 4
