"""Sessions' integration fixtures: the app in-process on the real Postgres and Kafka.

Sessions learns about programs, people and accepted matches only from events, so the tests play
profiles and matching: they publish those events on the real broker, the way the other services
would, and wait until sessions has taken them in. A test then starts from a state a user could
have reached: two people with their time zones, matched in a program, their mentorship active.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from trellis_infra.pytest_plugin import (
    bearer,
    caught_up,
    eventually,
    running_app,
    settings_for,
)
from trellis_sessions.main import create_app
from trellis_sessions.settings import SessionsSettings
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import profiles as p
from trellis_shared.events import Event, EventContract, from_kafka, to_kafka
from trellis_shared.kafka import create_producer, ensure_topics, read_topic


@dataclass
class Pair:
    """A mentor and a mentee matched in a program, and the mentorship sessions started."""

    org: uuid.UUID
    program_id: uuid.UUID
    match_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    mentorship: dict[str, Any]

    @property
    def id(self) -> str:
        return self.mentorship["id"]

    @property
    def url(self) -> str:
        return f"/sessions/mentorships/{self.id}"

    @property
    def mentor(self) -> dict[str, str]:
        return bearer(org=self.org, roles=["member"], sub=self.mentor_id)

    @property
    def mentee(self) -> dict[str, str]:
        return bearer(org=self.org, roles=["member"], sub=self.mentee_id)

    @property
    def admin(self) -> dict[str, str]:
        return bearer(org=self.org, roles=["org_admin"])

    @property
    def stranger(self) -> dict[str, str]:
        """A member of the same organization who is not part of this mentorship."""
        return bearer(org=self.org, roles=["member"], sub=uuid.uuid4())

    @property
    def other_org_admin(self) -> dict[str, str]:
        return bearer(org=uuid.uuid4(), roles=["org_admin"])


class World:
    """Publishes what profiles and matching would, and reads what sessions made of it."""

    def __init__(
        self, stack: Any, client: httpx.AsyncClient, producer: AIOKafkaProducer, engine: AsyncEngine
    ) -> None:
        self.stack = stack
        self.sessions = client
        self.producer = producer
        self.engine = engine

    async def publish(self, data: EventContract, *, org: uuid.UUID, source: str) -> Event:
        event = Event.new(data, tenant=org, source=source)
        message = to_kafka(event)
        await self.producer.send_and_wait(
            event.topic,
            value=message.value,
            key=message.key.encode(),
            headers=list(message.headers.items()),
        )
        return event

    async def program(
        self,
        org: uuid.UUID,
        *,
        cadence_days: int = 14,
        meeting_minutes: int = 45,
        health_threshold: int = 50,
        program_id: uuid.UUID | None = None,
        version: int = 1,
    ) -> uuid.UUID:
        program_id = program_id or uuid.uuid4()
        await self.publish(
            p.ProgramCreated(
                program_id=program_id,
                name="Alumni mentoring",
                kind="one_to_one",
                meeting_cadence_days=cadence_days,
                meeting_minutes=meeting_minutes,
                health_threshold=health_threshold,
                matching=p.MatchingSettings(),
                version=version,
            ),
            org=org,
            source="trellis/profiles",
        )
        await eventually(
            lambda: self.rows("SELECT version FROM program_view WHERE id = :id", id=program_id),
            until=lambda rows: bool(rows) and rows[0]["version"] >= version,
        )
        return program_id

    async def person(
        self, org: uuid.UUID, *, name: str, time_zone: str = "UTC", locale: str = "en"
    ) -> uuid.UUID:
        person_id = uuid.uuid4()
        await self.publish(
            p.PersonRegistered(
                person_id=person_id,
                full_name=name,
                email=f"{person_id.hex[:8]}@example.org",
                time_zone=time_zone,
                locale=locale,
                registered_at=datetime.now(UTC),
            ),
            org=org,
            source="trellis/profiles",
        )
        await eventually(
            lambda: self.rows("SELECT id FROM person_view WHERE id = :id", id=person_id)
        )
        return person_id

    async def accept(
        self,
        org: uuid.UUID,
        program_id: uuid.UUID,
        mentor_id: uuid.UUID,
        mentee_id: uuid.UUID,
        *,
        match_id: uuid.UUID | None = None,
        score: float | None = 0.72,
    ) -> Event:
        return await self.publish(
            m.MatchAccepted(
                match_id=match_id or uuid.uuid4(),
                program_id=program_id,
                mentor_id=mentor_id,
                mentee_id=mentee_id,
                score=score,
                accepted_at=datetime.now(UTC),
            ),
            org=org,
            source="trellis/matching",
        )

    async def pair(
        self,
        *,
        org: uuid.UUID | None = None,
        program_id: uuid.UUID | None = None,
        mentor_zone: str = "America/New_York",
        mentee_zone: str = "Europe/London",
        score: float | None = 0.72,
        **program: Any,
    ) -> Pair:
        """A mentorship as sessions starts it from an accepted match (program, people, match)."""
        org = org or uuid.uuid4()
        program_id = program_id or await self.program(org, **program)
        mentor_id = await self.person(org, name="Maya Mentor", time_zone=mentor_zone)
        mentee_id = await self.person(org, name="Theo Mentee", time_zone=mentee_zone)
        accepted = await self.accept(org, program_id, mentor_id, mentee_id, score=score)
        pair = Pair(org, program_id, accepted.data.match_id, mentor_id, mentee_id, {})
        pair.mentorship = await self.mentorship_of(pair)
        return pair

    async def mentorship_of(self, pair: Pair) -> dict[str, Any]:
        """Wait until sessions has started the pair's mentorship; the mentorship as the mentee
        sees it."""
        response = await eventually(
            lambda: self.sessions.get(
                "/sessions/mentorships", params={"status": "active"}, headers=pair.mentee
            ),
            until=lambda r: any(x["match_id"] == str(pair.match_id) for x in r.json()["data"]),
        )
        [found] = [x for x in response.json()["data"] if x["match_id"] == str(pair.match_id)]
        return found

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).mappings().all())

    async def events(self, contract: type[EventContract], key: str | uuid.UUID) -> list[Event]:
        """Every event of `contract`'s topic keyed by `key` (an entity id), oldest first."""
        records = await read_topic(
            self.stack.kafka_bootstrap, contract.topic(), key=str(key).encode()
        )
        return [from_kafka(r.headers, r.key, r.value) for r in records]


@pytest.fixture(scope="module")
async def sessions_app(stack) -> AsyncIterator[httpx.AsyncClient]:
    """Sessions running in-process (relay and consumers included) for a module."""
    app = create_app(settings_for(stack, "sessions", SessionsSettings))
    async with running_app(app) as client:
        await caught_up(app)
        yield client


@pytest.fixture(scope="module")
async def world(stack, sessions_app) -> AsyncIterator[World]:
    await ensure_topics(
        stack.kafka_bootstrap,
        [p.ProgramCreated.topic(), p.PersonRegistered.topic(), m.MatchAccepted.topic()],
    )
    producer = create_producer(stack.kafka_bootstrap, client_id="sessions-tests")
    engine = create_async_engine(stack.service_database_url("sessions"))
    await producer.start()
    try:
        yield World(stack, sessions_app, producer, engine)
    finally:
        await producer.stop()
        await engine.dispose()
