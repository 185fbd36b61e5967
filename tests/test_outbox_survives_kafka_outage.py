"""Kafka stopped while people are registered: nothing is lost once it is back."""

import uuid

import httpx
import pytest

from trellis_infra.pytest_plugin import bearer, eventually


async def test_people_registered_while_kafka_is_down_are_welcomed_after_it_returns(
    gateway, platform
):
    if platform.config.external_kafka:
        pytest.skip(reason="the broker is external: this test stops and starts the local one")
    org = uuid.uuid4()
    platform.kafka.stop()
    try:
        people = []
        for i in range(10):
            response = await gateway.post(
                "/profiles/people",
                json={
                    "full_name": f"Offline Person {i}",
                    "email": f"off{i}.{uuid.uuid4().hex[:6]}@example.org",
                },
                headers=bearer(org=org, roles=["org_admin"]),
            )
            # Writes never depend on the broker: the event waits in the outbox.
            assert response.status_code == 201, response.text
            people.append(response.json())
        # The backlog is visible while the broker is away, and readiness says why.
        ready = await eventually(
            lambda: _readyz(platform),
            until=lambda r: r["checks"]["outbox_backlog"] >= 10,
            timeout=30,
        )
        assert ready["status"] == "unavailable"
        assert ready["checks"]["kafka"] == "unreachable"
    finally:
        platform.kafka.start()

    async def welcomed():
        count = 0
        for person in people:
            inbox = await gateway.get(
                "/notifications/inbox", headers=bearer(org=org, roles=["member"], sub=person["id"])
            )
            count += len(inbox.json()["data"])
        return count

    assert (
        await eventually(welcomed, until=lambda n: n == len(people), timeout=120, interval=1) == 10
    )
    drained = await eventually(
        lambda: _readyz(platform), until=lambda r: r["checks"]["outbox_backlog"] == 0
    )
    assert drained["status"] == "ok"


async def _readyz(platform):
    async with httpx.AsyncClient(base_url=platform.service_url("profiles"), timeout=10) as client:
        return (await client.get("/readyz")).json()
