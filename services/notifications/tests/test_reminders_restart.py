"""Reminders are durable: planned by one instance of the service, sent by the next one after a
restart, late (and saying so) when nobody was running at their time. Real clock, real apps."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_notifications.main import create_app
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s
from trellis_shared.events import Event, EventContract, to_kafka
from trellis_shared.kafka import create_producer


class Outside:
    """What the other services and a person's client do, against one instance at a time."""

    def __init__(self, producer: AIOKafkaProducer, engine: AsyncEngine, org: uuid.UUID) -> None:
        self.producer, self.engine, self.org = producer, engine, org
        self.client: httpx.AsyncClient | None = None

    async def publish(self, data: EventContract, source: str) -> None:
        event = Event.new(data, tenant=self.org, source=source)
        message = to_kafka(event)
        await self.producer.send_and_wait(
            event.topic,
            value=message.value,
            key=message.key.encode(),
            headers=list(message.headers.items()),
        )

    async def person(self, name: str, time_zone: str) -> uuid.UUID:
        person_id = uuid.uuid4()
        registered = p.PersonRegistered(
            person_id=person_id,
            full_name=name,
            email=f"{person_id.hex[:10]}@example.org",
            time_zone=time_zone,
            locale="en",
            registered_at=datetime.now(UTC),
        )
        await self.publish(registered, "trellis/profiles")
        await eventually(lambda: self.inbox(person_id), until=lambda items: items)
        return person_id

    async def inbox(self, person_id: uuid.UUID) -> list[dict[str, Any]]:
        headers = bearer(org=self.org, roles=["member"], sub=person_id)
        response = await self.client.get("/notifications/inbox", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def reminders(self, meeting_id: uuid.UUID) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT * FROM reminder WHERE meeting_id = :m"), {"m": meeting_id}
            )
            return [dict(r) for r in rows.mappings()]


async def test_a_reminder_planned_before_a_restart_is_sent_after_it_late(stack):
    producer = create_producer(stack.kafka_bootstrap, client_id="reminders-restart-tests")
    engine = create_async_engine(stack.service_database_url("notifications"))
    await producer.start()
    # The first instance's worker makes one pass at start-up and then sleeps for an hour, so
    # whatever the machine's speed, only the second instance can send the reminder.
    first = settings_for(stack, "notifications", NotificationsSettings, reminders_interval_s=3600)
    second = settings_for(stack, "notifications", NotificationsSettings, reminders_late_after_s=1)
    world = Outside(producer, engine, uuid.uuid4())
    try:
        async with running_app(create_app(first)) as client:
            world.client = client
            mentor = await world.person("Maya Mentor", "UTC")
            mentee = await world.person("Theo Mentee", "Asia/Tokyo")
            for person in (mentor, mentee):
                put = await client.put(
                    "/notifications/preferences",
                    json={"reminder_lead_minutes": [5]},
                    headers=bearer(org=world.org, roles=["member"], sub=person),
                )
                assert put.status_code == 200, put.text
            starts = datetime.now(UTC) + timedelta(minutes=5, seconds=10)
            meeting = uuid.uuid4()
            await world.publish(
                s.MeetingScheduled(
                    mentorship_id=uuid.uuid4(),
                    program_id=uuid.uuid4(),
                    mentor_id=mentor,
                    mentee_id=mentee,
                    meeting_id=meeting,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=30),
                    time_zone="UTC",
                    mode="phone",
                    scheduled_by="mentor",
                    scheduled_at=datetime.now(UTC),
                ),
                "trellis/sessions",
            )
            rows = await eventually(lambda: world.reminders(meeting), until=lambda r: len(r) == 2)
        due = rows[0]["due_at"]

        # The service is down while the reminder comes due, and a little longer.
        await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 3)
        assert {r["status"] for r in await world.reminders(meeting)} == {"scheduled"}

        async with running_app(create_app(second)) as client:
            world.client = client
            rows = await eventually(
                lambda: world.reminders(meeting),
                until=lambda r: {x["status"] for x in r} == {"sent"},
            )
            assert all(r["late_by"] >= timedelta(seconds=3) for r in rows)
            inbox = await world.inbox(mentee)
            [reminder] = [i for i in inbox if i["kind"] == "meeting_reminder"]
            assert reminder["title"].startswith("Late reminder: meeting with Maya Mentor in ")
            assert "This reminder is late" in reminder["body"]
            assert "JST" in reminder["body"]  # the meeting's time, in the mentee's own zone
    finally:
        await producer.stop()
        await engine.dispose()
