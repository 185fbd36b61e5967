"""Connections, introductions and the network query, against the real Postgres and Kafka."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.contracts.matching import MatchAccepted
from trellis_shared.contracts.profiles import (
    ConnectionCreated,
    IntroductionAccepted,
    IntroductionDeclined,
    IntroductionRequested,
)
from trellis_shared.events import Event, from_kafka, to_kafka
from trellis_shared.kafka import create_producer, ensure_topics, read_topic


@pytest.fixture
async def profiles(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        yield client


class Org:
    """An organization with an admin who is also a person in it (so they may introduce)."""

    def __init__(self, client) -> None:
        self.client = client
        self.id = uuid.uuid4()
        self.admin_id: str | None = None

    def admin(self) -> dict[str, str]:
        return bearer(org=self.id, roles=["org_admin"], sub=self.admin_id)

    def member(self, person_id: str) -> dict[str, str]:
        return bearer(org=self.id, roles=["member"], sub=person_id)

    async def person(self, name: str, skills: list[dict] | None = None) -> str:
        response = await self.client.post(
            "/profiles/people",
            json={
                "full_name": name,
                "email": f"{name.split()[0].lower()}.{uuid.uuid4().hex[:8]}@example.org",
                "headline": f"{name} at work",
                "skills": skills or [],
            },
            headers=self.admin(),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def with_admin(self) -> "Org":
        self.admin_id = await self.person("Org Admin")
        return self

    async def connect(self, a: str, b: str) -> None:
        """Connect two people the way an admin does: introduce them, and the second accepts."""
        made = await self.client.post(
            "/profiles/introductions",
            json={"from_person_id": a, "to_person_id": b},
            headers=self.admin(),
        )
        assert made.status_code == 201, made.text
        accepted = await self.client.post(
            f"/profiles/introductions/{made.json()['id']}/accept", headers=self.member(b)
        )
        assert accepted.status_code == 200, accepted.text

    async def connections(self, person_id: str) -> list[dict]:
        response = await self.client.get(
            f"/profiles/people/{person_id}/connections", headers=self.admin()
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def network(self, person_id: str, **params) -> dict:
        response = await self.client.get(
            f"/profiles/people/{person_id}/network", params=params, headers=self.member(person_id)
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def org(profiles) -> Org:
    return await Org(profiles).with_admin()


async def _publish(stack, *events: Event) -> None:
    await ensure_topics(stack.kafka_bootstrap, [MatchAccepted.topic()])
    producer = create_producer(stack.kafka_bootstrap, client_id="test-match-accepted")
    await producer.start()
    try:
        for event in events:
            message = to_kafka(event)
            await producer.send_and_wait(
                event.topic,
                value=message.value,
                key=message.key.encode(),
                headers=list(message.headers.items()),
            )
    finally:
        await producer.stop()


def _match(org_id, mentor, mentee, match_id=None) -> Event:
    data = MatchAccepted(
        match_id=match_id or uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=mentor,
        mentee_id=mentee,
        accepted_at=datetime.now(UTC),
    )
    return Event.new(data, tenant=org_id, source="trellis/matching")


async def _events(stack, contract, key) -> list[Event]:
    records = await read_topic(stack.kafka_bootstrap, contract.topic(), key=str(key).encode())
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def _outbox_count(stack, event_type: str, key: str) -> int:
    engine = create_async_engine(stack.service_database_url("profiles"))
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM profiles.outbox_message "
                    "WHERE event_type = :t AND key = :k"
                ),
                {"t": event_type, "k": key},
            )
    finally:
        await engine.dispose()


async def test_an_accepted_match_connects_mentor_and_mentee_once(org, stack):
    mentor, mentee = await org.person("Mentor Ada"), await org.person("Mentee Bo")
    first = _match(org.id, mentor, mentee)
    # The same event delivered twice, then another match of the same pair (a new event id):
    # the inbox drops the copy, the unique pair the second match.
    again = _match(org.id, mentee, mentor, match_id=first.data.match_id)
    # Same key, so same partition, after the others: once it shows, they were all processed.
    x, y = await org.person("Marker X"), await org.person("Marker Y")
    marker = _match(org.id, x, y, match_id=first.data.match_id)
    await _publish(stack, first, first, again, marker)

    await eventually(lambda: org.connections(x), timeout=60)
    [connection] = await org.connections(mentor)
    assert connection["person"] == {
        "id": mentee,
        "full_name": "Mentee Bo",
        "headline": "Mentee Bo at work",
    }
    assert connection["origin"] == "mentorship"
    assert connection["source_id"] == str(first.data.match_id)
    assert [c["person"]["id"] for c in await org.connections(mentee)] == [mentor]

    assert await _outbox_count(stack, ConnectionCreated.event_type, connection["id"]) == 1
    [announced] = await eventually(
        lambda: _events(stack, ConnectionCreated, connection["id"]), until=bool
    )
    assert announced.tenant == org.id
    assert {str(announced.data.person_a_id), str(announced.data.person_b_id)} == {mentor, mentee}
    assert announced.data.origin == "mentorship"


async def test_a_match_of_an_erased_person_or_another_tenant_connects_no_one(org, profiles, stack):
    mentor, mentee, gone = (
        await org.person("Mentor Cy"),
        await org.person("Mentee Di"),
        await org.person("Gone Ed"),
    )
    erased = await profiles.delete(f"/profiles/people/{gone}", headers=org.admin())
    assert erased.status_code == 204
    key = uuid.uuid4()
    x, y = await org.person("Marker X"), await org.person("Marker Y")
    await _publish(
        stack,
        _match(org.id, mentor, gone, match_id=key),
        _match(uuid.uuid4(), mentor, mentee, match_id=key),  # the wrong tenant for both
        _match(org.id, x, y, match_id=key),
    )
    await eventually(lambda: org.connections(x), timeout=60)
    assert await org.connections(mentor) == []
    assert await org.connections(mentee) == []


async def test_an_introduction_accepted_connects_the_two(org, profiles, stack):
    alice, bob, carol = (
        await org.person("Alice Ames"),
        await org.person("Bob Bell"),
        await org.person("Carol Cho"),
    )
    await org.connect(alice, bob)
    await org.connect(alice, carol)

    made = await profiles.post(
        "/profiles/introductions",
        json={"from_person_id": bob, "to_person_id": carol, "note": "Bob wants to learn Rust"},
        headers=org.member(alice),
    )
    assert made.status_code == 201, made.text
    introduction = made.json()
    assert made.headers["location"] == f"/profiles/introductions/{introduction['id']}"
    assert introduction["introducer_id"] == alice
    assert introduction["status"] == "open"

    async def listed(person, role):
        response = await profiles.get(
            "/profiles/introductions", params={"role": role}, headers=org.member(person)
        )
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["data"]]

    assert introduction["id"] in await listed(carol, "received")
    assert introduction["id"] in await listed(bob, "sent")
    assert introduction["id"] in await listed(alice, "made")
    assert introduction["id"] not in await listed(alice, "received")

    accepted = await profiles.post(
        f"/profiles/introductions/{introduction['id']}/accept", headers=org.member(carol)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decided_at"]
    [link] = [c for c in await org.connections(bob) if c["person"]["id"] == carol]
    assert link["origin"] == "introduction"
    assert link["source_id"] == introduction["id"]

    twice = await profiles.post(
        f"/profiles/introductions/{introduction['id']}/accept", headers=org.member(carol)
    )
    assert twice.status_code == 409

    # One topic for the introduction's whole life, keyed by its id: the events arrive in order.
    [requested, accepted_event] = await eventually(
        lambda: _events(stack, IntroductionRequested, introduction["id"]),
        until=lambda found: len(found) == 2,
    )
    assert requested.type == IntroductionRequested.event_type
    assert accepted_event.type == IntroductionAccepted.event_type
    assert requested.data.note == "Bob wants to learn Rust"
    assert str(requested.data.introducer_id) == alice
    assert str(accepted_event.data.to_person_id) == carol
    [created] = await eventually(lambda: _events(stack, ConnectionCreated, link["id"]), until=bool)
    assert created.data.origin == "introduction"


async def test_a_declined_introduction_connects_no_one(org, profiles, stack):
    bob, carol = await org.person("Bob Bell"), await org.person("Carol Cho")
    made = await profiles.post(
        "/profiles/introductions",
        json={"from_person_id": bob, "to_person_id": carol},
        headers=org.admin(),
    )
    assert made.status_code == 201, made.text
    url = f"/profiles/introductions/{made.json()['id']}"

    declined = await profiles.post(f"{url}/decline", headers=org.member(carol))
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    late_accept = await profiles.post(f"{url}/accept", headers=org.member(carol))
    assert late_accept.status_code == 409
    assert "declined" in late_accept.json()["detail"]
    assert await org.connections(bob) == []
    [_, event] = await eventually(
        lambda: _events(stack, IntroductionDeclined, made.json()["id"]),
        until=lambda found: len(found) == 2,
    )
    assert event.type == IntroductionDeclined.event_type
    assert str(event.data.from_person_id) == bob
    # Declined, the pair may be introduced again.
    again = await profiles.post(
        "/profiles/introductions",
        json={"from_person_id": bob, "to_person_id": carol},
        headers=org.admin(),
    )
    assert again.status_code == 201


async def test_introduction_rules(org, profiles):
    alice, bob, carol, dan = (
        await org.person("Alice Ames"),
        await org.person("Bob Bell"),
        await org.person("Carol Cho"),
        await org.person("Dan Diaz"),
    )
    await org.connect(alice, bob)
    await org.connect(alice, carol)
    elsewhere = await Org(profiles).with_admin()
    stranger = await elsewhere.person("Eve Elsewhere")

    async def introduce(body, headers):
        return await profiles.post("/profiles/introductions", json=body, headers=headers)

    as_alice = org.member(alice)
    cases = [
        ({"from_person_id": bob, "to_person_id": bob}, "body.to_person_id"),
        ({"from_person_id": str(uuid.uuid4()), "to_person_id": bob}, "body.from_person_id"),
        ({"from_person_id": bob, "to_person_id": stranger}, "body.to_person_id"),
        ({"from_person_id": bob, "to_person_id": carol, "note": "x" * 1001}, "body.note"),
        ({"from_person_id": bob, "to_person_id": carol, "urgent": True}, "body.urgent"),
        ({"from_person_id": alice, "to_person_id": carol}, "body.from_person_id"),
    ]
    for body, field in cases:
        response = await introduce(body, as_alice)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]]
        assert field in response.json()["detail"]

    not_connected = await introduce({"from_person_id": bob, "to_person_id": dan}, as_alice)
    assert not_connected.status_code == 409
    assert f"not connected to {dan}" in not_connected.json()["detail"]
    # Not a person of the organization at all (a token whose subject is no one here).
    nobody = await introduce(
        {"from_person_id": bob, "to_person_id": carol},
        bearer(org=org.id, roles=["member"], sub=uuid.uuid4()),
    )
    assert nobody.status_code == 403

    first = await introduce({"from_person_id": bob, "to_person_id": carol}, as_alice)
    assert first.status_code == 201
    duplicate = await introduce({"from_person_id": carol, "to_person_id": bob}, org.admin())
    assert duplicate.status_code == 409
    assert "already waiting" in duplicate.json()["detail"]
    already = await introduce({"from_person_id": bob, "to_person_id": alice}, org.admin())
    assert already.status_code == 409
    assert "already connected" in already.json()["detail"]

    url = f"/profiles/introductions/{first.json()['id']}/accept"
    for someone in (bob, alice, dan):
        forbidden = await profiles.post(url, headers=org.member(someone))
        assert forbidden.status_code == 403, someone
    assert (await profiles.post(url, headers=org.admin())).status_code == 403
    other_org = await profiles.post(url, headers=bearer(org=elsewhere.id, roles=["member"]))
    assert other_org.status_code == 404
    missing = await profiles.post(
        f"/profiles/introductions/{uuid.uuid4()}/decline", headers=org.member(carol)
    )
    assert missing.status_code == 404

    read = f"/profiles/introductions/{first.json()['id']}"
    assert (await profiles.get(read, headers=org.member(bob))).status_code == 200
    assert (await profiles.get(read, headers=org.member(dan))).status_code == 404
    assert (await profiles.get(read, headers=elsewhere.admin())).status_code == 404


async def test_introductions_are_listed_newest_first_a_page_at_a_time(org, profiles):
    carol = await org.person("Carol Cho")
    others = [await org.person(f"Person {i}") for i in range(3)]
    made = []
    for other in others:
        response = await profiles.post(
            "/profiles/introductions",
            json={"from_person_id": other, "to_person_id": carol},
            headers=org.admin(),
        )
        made.append(response.json()["id"])

    seen, cursor = [], None
    while True:
        params = {"role": "received", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await profiles.get(
            "/profiles/introductions", params=params, headers=org.member(carol)
        )
        assert page.status_code == 200
        seen += [i["id"] for i in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
    bad_role = await profiles.get(
        "/profiles/introductions", params={"role": "all"}, headers=org.member(carol)
    )
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"][0]["field"] == "query.role"


async def test_the_network_answers_who_can_introduce_me_with_the_path(org, profiles):
    python = [{"name": "Python", "level": "advanced"}]
    me = await org.person("Mia Me")
    a = await org.person("Ari Adams", [{"name": "Go", "level": "expert"}])
    b = await org.person("Ben Brook", python)
    c = await org.person("Cem Cole", [{"name": "python", "level": "expert"}, {"name": "SQL"}])
    d = await org.person("Dee Dunn")
    far = await org.person("Far Away", python)
    for one, other in ((me, a), (a, b), (b, c), (me, d), (c, far)):
        await org.connect(one, other)

    def ids(result):
        return [p["id"] for p in result["data"]]

    assert ids(await org.network(me, depth=1, skill="python")) == []
    assert sorted(ids(await org.network(me, depth=1))) == sorted([a, d])

    [only_b] = (await org.network(me, skill="python"))["data"]  # depth 2 by default
    assert only_b["id"] == b
    assert only_b["distance"] == 2
    assert only_b["skills"] == [{"name": "Python", "level": "advanced"}]
    assert only_b["introduced_by"] == {"id": a, "full_name": "Ari Adams"}
    assert [step["id"] for step in only_b["path"]] == [me, a, b]
    assert [step["full_name"] for step in only_b["path"]] == ["Mia Me", "Ari Adams", "Ben Brook"]
    assert set(only_b) == {
        "id",
        "full_name",
        "headline",
        "skills",
        "distance",
        "introduced_by",
        "path",
    }

    three = await org.network(me, depth=3, skill="PYTHON ")
    assert ids(three) == [b, c]
    cem = three["data"][1]
    assert cem["distance"] == 3
    assert cem["skills"] == [{"name": "python", "level": "expert"}]
    assert [step["id"] for step in cem["path"]] == [me, a, b, c]

    page = await org.network(me, depth=3, skill="python", limit=1)
    assert ids(page) == [b]
    rest = await org.network(me, depth=3, skill="python", cursor=page["next_cursor"])
    assert ids(rest) == [c]
    assert rest["next_cursor"] is None

    # A shortcut makes Cem two hops away, through Dee: the shortest path wins.
    await org.connect(d, c)
    cem = next(p for p in (await org.network(me, depth=3))["data"] if p["id"] == c)
    assert cem["distance"] == 2
    assert [step["id"] for step in cem["path"]] == [me, d, c]
    assert cem["introduced_by"]["id"] == d
    everyone = await org.network(me, depth=3)
    assert far in ids(everyone)
    assert me not in ids(everyone)
    assert [p["distance"] for p in everyone["data"]] == sorted(
        p["distance"] for p in everyone["data"]
    )


async def test_the_network_query_is_the_persons_own(org, profiles):
    me, friend = await org.person("Mia Me"), await org.person("Fay Friend")
    await org.connect(me, friend)
    url = f"/profiles/people/{me}/network"

    as_admin = await profiles.get(url, headers=org.admin())
    assert [p["id"] for p in as_admin.json()["data"]] == [friend]
    as_friend = await profiles.get(url, headers=org.member(friend))
    assert as_friend.status_code == 403
    elsewhere = await profiles.get(url, headers=bearer(org=uuid.uuid4(), roles=["org_admin"]))
    assert elsewhere.status_code == 404
    # Another organization's person is not found, rather than someone without connections.
    foreign = await profiles.get(
        f"/profiles/people/{me}/connections",
        headers=bearer(org=uuid.uuid4(), roles=["org_admin"]),
    )
    assert foreign.status_code == 404
    other_connections = await profiles.get(
        f"/profiles/people/{me}/connections", headers=org.member(friend)
    )
    assert other_connections.status_code == 403

    for depth in (0, 4, "two"):
        response = await profiles.get(url, params={"depth": depth}, headers=org.member(me))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.depth"
        assert "query.depth" in response.json()["detail"]
    bad_cursor = await profiles.get(url, params={"cursor": "nonsense"}, headers=org.member(me))
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "query.cursor"


async def test_erasure_removes_the_persons_connections_and_introductions(org, profiles, stack):
    alice, bob, carol = (
        await org.person("Alice Ames"),
        await org.person("Bob Bell"),
        await org.person("Carol Cho"),
    )
    await org.connect(alice, bob)
    await org.connect(alice, carol)
    made = await profiles.post(
        "/profiles/introductions",
        json={"from_person_id": carol, "to_person_id": bob},
        headers=org.member(alice),
    )
    assert made.status_code == 201

    erased = await profiles.delete(f"/profiles/people/{bob}", headers=org.member(bob))
    assert erased.status_code == 204

    assert [c["person"]["id"] for c in await org.connections(alice)] == [carol]
    gone = await profiles.get(f"/profiles/introductions/{made.json()['id']}", headers=org.admin())
    assert gone.status_code == 404
    engine = create_async_engine(stack.service_database_url("profiles"))
    try:
        async with engine.connect() as conn:
            left = await conn.scalar(
                sa.text(
                    "SELECT (SELECT count(*) FROM profiles.connection"
                    "        WHERE :p IN (person_a_id, person_b_id))"
                    "     + (SELECT count(*) FROM profiles.introduction"
                    "        WHERE :p IN (introducer_id, from_person_id, to_person_id))"
                ),
                {"p": uuid.UUID(bob)},
            )
    finally:
        await engine.dispose()
    assert left == 0
