"""The live inbox stream opened the way a browser's EventSource can: with a single-use ticket in
the URL (asked for with the bearer token), never with the token itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from trellis_infra.pytest_plugin import bearer
from trellis_shared.contracts import sessions as s

STREAM = "/notifications/inbox/stream"
TICKETS = "/notifications/inbox/stream-tickets"


async def _ticket(world, headers: dict[str, str]) -> dict:
    response = await world.http.post(TICKETS, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _goal(mentor: uuid.UUID, mentee: uuid.UUID, title: str) -> s.GoalCompleted:
    return s.GoalCompleted(
        mentorship_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=mentor,
        mentee_id=mentee,
        goal_id=uuid.uuid4(),
        title=title,
        completed_by="mentee",
        completed_at=datetime.now(UTC),
    )


async def _refused(world, params: dict[str, str], headers: dict[str, str] | None = None) -> dict:
    response = await world.http.get(STREAM, params=params, headers=headers or {})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def _first_item(world, org, mentor, mentee, *, params=None, headers=None) -> dict:
    """Opens the stream as given, makes something new happen, and returns what it sent."""
    opened = asyncio.Event()
    received: list[dict] = []

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=str(world.http.base_url), timeout=30) as client,
            client.stream("GET", STREAM, params=params, headers=headers) as response,
        ):
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line.removeprefix("data:").strip()))
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(opened.wait(), 10)
    await asyncio.sleep(0.5)  # the stream has read what existed; now something new happens
    title = f"Goal {uuid.uuid4().hex[:6]}"
    await world.publish(_goal(mentor, mentee, title), org=org, source="trellis/sessions")
    await asyncio.wait_for(listener, 30)
    assert received[0]["title"] == f"Goal reached: {title}"
    return received[0]


async def test_a_ticket_opens_the_stream_once(world):
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor")
    mentee = await world.person(org, name="Theo Mentee")
    issued = await _ticket(world, world.member(org, mentee))
    expires_at = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(0) < expires_at - datetime.now(UTC) <= timedelta(seconds=60)
    assert len(issued["ticket"]) >= 40

    item = await _first_item(world, org, mentor, mentee, params={"ticket": issued["ticket"]})
    assert item["kind"] == "goal_completed"
    problem = await _refused(world, {"ticket": issued["ticket"]})  # used up
    assert problem["status"] == 401 and "used" in problem["detail"]
    # The header path still works, for clients that can send one.
    await _first_item(world, org, mentor, mentee, headers=world.member(org, mentee))


async def test_expired_unknown_foreign_tickets_and_tokens_in_the_url_are_refused(world):
    org = uuid.uuid4()
    ada = await world.person(org, name="Ada Lovelace")
    bob = await world.person(org, name="Bob Other")
    stale = await _ticket(world, world.member(org, ada))
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE stream_ticket SET expires_at = now() - interval '1 second' "
                "WHERE person_id = :p"
            ),
            {"p": ada},
        )
    await _refused(world, {"ticket": stale["ticket"]})
    await _refused(world, {"ticket": "x" * 43})
    # Ada's ticket with Bob's token: they name different people, so neither opens anything.
    ticket = await _ticket(world, world.member(org, ada))
    problem = await _refused(world, {"ticket": ticket["ticket"]}, world.member(org, bob))
    assert problem["detail"] == "This stream ticket was issued to someone else"
    # The bearer token itself is never accepted in the URL.
    token = world.member(org, ada)["Authorization"].removeprefix("Bearer ")
    await _refused(world, {"ticket": token})
    await _refused(world, {})

    assert (await world.http.post(TICKETS)).status_code == 401
    partner = bearer(org=org, roles=["partner"], sub="crm-sync-client")
    assert (await world.http.post(TICKETS, headers=partner)).status_code == 403
