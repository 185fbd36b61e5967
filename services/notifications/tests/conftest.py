"""Notifications' integration fixtures: the app served by uvicorn on a real port (so live streams
stream), on the real Postgres and Kafka, fed with events published the way the other services
publish them."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from trellis_infra.pytest_plugin import bearer, caught_up, eventually, settings_for, skip_history
from trellis_notifications.handlers import subscriptions
from trellis_notifications.main import create_app
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.contracts import profiles as p
from trellis_shared.db import create_engine, create_sessionmaker
from trellis_shared.events import Event, EventContract, registered_contracts, to_kafka
from trellis_shared.kafka import create_producer, ensure_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """Publishes what the other services would, and reads what notifications made of it."""

    def __init__(
        self, stack: Any, client: httpx.AsyncClient, producer: AIOKafkaProducer, engine: AsyncEngine
    ) -> None:
        self.stack = stack
        self.http = client
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

    async def person(
        self,
        org: uuid.UUID,
        *,
        name: str = "Ada Lovelace",
        time_zone: str = "UTC",
        locale: str = "en",
        email: str | None = None,
    ) -> uuid.UUID:
        """A registered person, once notifications knows them (their welcome has arrived)."""
        person_id = uuid.uuid4()
        await self.publish(
            p.PersonRegistered(
                person_id=person_id,
                full_name=name,
                email=email or f"{person_id.hex[:10]}@example.org",
                time_zone=time_zone,
                locale=locale,
                registered_at=datetime.now(UTC),
            ),
            org=org,
            source="trellis/profiles",
        )
        await eventually(lambda: self.inbox(org, person_id), until=lambda i: i["data"])
        return person_id

    async def inbox(self, org: uuid.UUID, person_id: uuid.UUID, **params: Any) -> dict[str, Any]:
        response = await self.http.get(
            "/notifications/inbox", params=params, headers=self.member(org, person_id)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def member(self, org: uuid.UUID, person_id: uuid.UUID) -> dict[str, str]:
        return bearer(org=org, roles=["member"], sub=person_id)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).mappings().all())

    async def emails(self, person_id: uuid.UUID) -> list[Any]:
        return await self.rows(
            "SELECT * FROM email_delivery WHERE person_id = :p ORDER BY created_at", p=person_id
        )


@pytest.fixture(scope="session", autouse=True)
async def _after_earlier_suites(stack) -> None:
    """Notifications' tests start after the events earlier suites left on its topics."""
    await skip_history(
        settings_for(stack, "notifications", NotificationsSettings), subscriptions.topics
    )


@pytest.fixture(scope="module")
async def sessionmaker(stack) -> AsyncIterator:
    """Sessions on notifications' schema, for tests that call its code in-process."""
    settings = settings_for(stack, "notifications", NotificationsSettings)
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine, settings)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def served(stack) -> AsyncIterator[str]:
    """Notifications served by uvicorn on a free port; its base URL."""
    port = free_port()
    app = create_app(settings_for(stack, "notifications", NotificationsSettings))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        await caught_up(app)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def world(stack, served) -> AsyncIterator[World]:
    topics = sorted({c.topic() for c in registered_contracts().values()})
    await ensure_topics(stack.kafka_bootstrap, topics)
    producer = create_producer(stack.kafka_bootstrap, client_id="notifications-tests")
    engine = create_async_engine(stack.service_database_url("notifications"))
    await producer.start()
    try:
        async with httpx.AsyncClient(base_url=served, timeout=30) as client:
            yield World(stack, client, producer, engine)
    finally:
        await producer.stop()
        await engine.dispose()
