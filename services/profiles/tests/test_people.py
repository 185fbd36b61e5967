"""Registering and reading people, against the real Postgres and Kafka."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic


@pytest.fixture
async def profiles(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        yield client


def _person(**overrides):
    body = {
        "full_name": "Grace Hopper",
        "email": f"grace.{uuid.uuid4().hex[:8]}@example.org",
        "time_zone": "America/New_York",
        "locale": "en-US",
    }
    body.update(overrides)
    return body


async def test_an_org_admin_registers_a_person_and_the_event_is_in_the_outbox(profiles, stack):
    org = uuid.uuid4()
    response = await profiles.post(
        "/profiles/people", json=_person(), headers=bearer(org=org, roles=["org_admin"])
    )
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["organization_id"] == str(org)
    assert response.headers["location"] == f"/profiles/people/{person['id']}"

    engine = create_async_engine(stack.service_database_url("profiles"))
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "SELECT event_type, key, tenant FROM profiles.outbox_message WHERE key = :k"
                ),
                {"k": person["id"]},
            )
        ).one()
    await engine.dispose()
    assert row.event_type == "trellis.profiles.person.registered.v1"
    assert str(row.tenant) == str(org)

    url = f"/profiles/people/{person['id']}"
    as_admin = await profiles.get(url, headers=bearer(org=org, roles=["org_admin"]))
    assert as_admin.status_code == 200
    assert as_admin.json()["email"] == person["email"]
    assert as_admin.headers["etag"] == 'W/"1"'

    # Another member sees the public profile: no email, no demographics.
    as_member = await profiles.get(url, headers=bearer(org=org, roles=["member"]))
    assert as_member.status_code == 200
    assert as_member.json()["full_name"] == "Grace Hopper"
    assert "email" not in as_member.json()
    assert "demographics" not in as_member.json()
    # The same public profile as the search (an ORM session) shows it.
    listed = await profiles.get("/profiles/people", headers=bearer(org=org, roles=["member"]))
    assert listed.json()["data"] == [as_member.json()]


async def test_another_organization_cannot_see_the_person(profiles):
    org = uuid.uuid4()
    created = await profiles.post(
        "/profiles/people", json=_person(), headers=bearer(org=org, roles=["org_admin"])
    )
    other = await profiles.get(
        f"/profiles/people/{created.json()['id']}",
        headers=bearer(org=uuid.uuid4(), roles=["org_admin"]),
    )
    missing = await profiles.get(
        f"/profiles/people/{uuid.uuid4()}", headers=bearer(org=org, roles=["org_admin"])
    )
    assert other.status_code == missing.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert (
        other.json()["type"] == missing.json()["type"] == "https://trellis.dev/problems/not-found"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_person(email="not-an-email"), "body.email"),
        (_person(time_zone="Mars/Olympus_Mons"), "body.time_zone"),
        (_person(full_name="   "), "body.full_name"),
        (_person(locale="english please"), "body.locale"),
        (_person(shoe_size=44), "body.shoe_size"),
        ({"email": "x@example.org"}, "body.full_name"),
    ],
)
async def test_invalid_input_is_a_422_problem_naming_the_field(profiles, body, field):
    response = await profiles.post(
        "/profiles/people", json=body, headers=bearer(org=uuid.uuid4(), roles=["org_admin"])
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert field in problem["detail"]


async def test_a_malformed_json_body_is_a_422_not_a_500(profiles):
    response = await profiles.post(
        "/profiles/people",
        content=b'{"full_name": ',
        headers={
            **bearer(org=uuid.uuid4(), roles=["org_admin"]),
            "content-type": "application/json",
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_same_email_twice_in_one_organization_is_a_409(profiles):
    org = uuid.uuid4()
    body = _person()
    first = await profiles.post(
        "/profiles/people", json=body, headers=bearer(org=org, roles=["org_admin"])
    )
    second = await profiles.post(
        "/profiles/people",
        json={**body, "email": body["email"].upper()},
        headers=bearer(org=org, roles=["org_admin"]),
    )
    elsewhere = await profiles.post(
        "/profiles/people", json=body, headers=bearer(org=uuid.uuid4(), roles=["org_admin"])
    )
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "body.email"
    assert elsewhere.status_code == 201


async def test_only_an_org_admin_registers_people(profiles):
    org = uuid.uuid4()
    as_member = await profiles.post(
        "/profiles/people", json=_person(), headers=bearer(org=org, roles=["member"])
    )
    anonymous = await profiles.post("/profiles/people", json=_person())
    assert as_member.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_routes_and_methods_answer_problem_json(profiles):
    headers = bearer(org=uuid.uuid4(), roles=["org_admin"])
    not_found = await profiles.get("/profiles/nothing-here", headers=headers)
    not_allowed = await profiles.delete("/profiles/people", headers=headers)
    assert not_found.status_code == 404
    assert not_allowed.status_code == 405
    for response in (not_found, not_allowed):
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_retried_post_with_an_idempotency_key_gets_the_first_response(profiles):
    org = uuid.uuid4()
    body = _person()
    headers = {**bearer(org=org, roles=["org_admin"], sub="admin-1"), "Idempotency-Key": "k-123"}
    first = await profiles.post("/profiles/people", json=body, headers=headers)
    again = await profiles.post("/profiles/people", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]

    listed = await profiles.get(
        "/profiles/people",
        params={"q": body["full_name"]},
        headers=bearer(org=org, roles=["org_admin"]),
    )
    assert len(listed.json()["data"]) == 1

    reused = await profiles.post("/profiles/people", json=_person(), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "header.Idempotency-Key"

    # The key belongs to its caller: another admin's identical key is a new request.
    other = {**bearer(org=org, roles=["org_admin"], sub="admin-2"), "Idempotency-Key": "k-123"}
    assert (
        await profiles.post("/profiles/people", json=_person(), headers=other)
    ).status_code == 201


async def test_search_by_skill_language_and_text_pages_with_a_cursor(profiles):
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    for i in range(5):
        await profiles.post(
            "/profiles/people",
            json=_person(
                full_name=f"Pythonista {i}",
                languages=["es-MX", "en"] if i % 2 else ["fr"],
                skills=[{"name": "Python", "level": "expert"}],
            ),
            headers=admin,
        )
    await profiles.post("/profiles/people", json=_person(full_name="Rustacean"), headers=admin)

    by_skill = await profiles.get("/profiles/people", params={"skill": "python"}, headers=admin)
    assert len(by_skill.json()["data"]) == 5
    by_language = await profiles.get("/profiles/people", params={"language": "es"}, headers=admin)
    assert sorted(p["full_name"] for p in by_language.json()["data"]) == [
        "Pythonista 1",
        "Pythonista 3",
    ]
    by_text = await profiles.get("/profiles/people", params={"q": "rust"}, headers=admin)
    assert [p["full_name"] for p in by_text.json()["data"]] == ["Rustacean"]

    first = await profiles.get("/profiles/people", params={"limit": 4}, headers=admin)
    second = await profiles.get(
        "/profiles/people",
        params={"limit": 4, "cursor": first.json()["next_cursor"]},
        headers=admin,
    )
    names = [p["full_name"] for p in first.json()["data"] + second.json()["data"]]
    assert len(names) == len(set(names)) == 6
    assert second.json()["next_cursor"] is None
    bad = await profiles.get("/profiles/people", params={"cursor": "garbage!"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"
    # Another organization's search sees none of them.
    elsewhere = await profiles.get(
        "/profiles/people",
        params={"skill": "python"},
        headers=bearer(org=uuid.uuid4(), roles=["org_admin"]),
    )
    assert elsewhere.json()["data"] == []


async def test_a_person_updates_their_profile_with_if_match(profiles, stack):
    org = uuid.uuid4()
    created = (
        await profiles.post(
            "/profiles/people", json=_person(), headers=bearer(org=org, roles=["org_admin"])
        )
    ).json()
    me = bearer(org=org, roles=["member"], sub=created["id"])
    url = f"/profiles/people/{created['id']}"
    change = {
        "headline": "Compiler pioneer",
        "availability": [{"weekday": 0, "start": "09:00", "end": "24:00"}],
    }

    missing = await profiles.patch(url, json=change, headers=me)
    assert missing.status_code == 428
    updated = await profiles.patch(url, json=change, headers={**me, "If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.json()["headline"] == "Compiler pioneer"
    assert updated.headers["etag"] == 'W/"2"'
    # The person reads their whole profile, as the change answered it (read without the ORM).
    mine = await profiles.get(url, headers=me)
    assert mine.json() == updated.json()
    assert mine.headers["etag"] == 'W/"2"'
    stale = await profiles.patch(url, json={"headline": "x"}, headers={**me, "If-Match": 'W/"1"'})
    assert stale.status_code == 412

    someone_else = bearer(org=org, roles=["member"], sub=uuid.uuid4())
    assert (
        await profiles.patch(
            url, json={"headline": "x"}, headers={**someone_else, "If-Match": 'W/"2"'}
        )
    ).status_code == 403

    bad_slot = await profiles.patch(
        url,
        json={"availability": [{"weekday": 1, "start": "10:00", "end": "09:00"}]},
        headers={**me, "If-Match": 'W/"2"'},
    )
    assert bad_slot.status_code == 422
    assert bad_slot.json()["errors"][0]["field"].startswith("body.availability")

    async def updated_event():
        records = await read_topic(
            stack.kafka_bootstrap, "trellis.profiles.person", key=created["id"].encode()
        )
        return [from_kafka(r.headers, r.key, r.value) for r in records]

    events = await eventually(updated_event, until=lambda es: len(es) >= 2)
    assert [e.type for e in events] == [
        "trellis.profiles.person.registered.v1",
        "trellis.profiles.person.updated.v1",
    ]
    assert events[1].data.headline == "Compiler pioneer"
    assert events[1].data.version == 2


async def test_erasure_removes_the_person_and_tells_every_service(profiles, stack):
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    created = (await profiles.post("/profiles/people", json=_person(), headers=admin)).json()
    url = f"/profiles/people/{created['id']}"
    assert (
        await profiles.delete(url, headers=bearer(org=uuid.uuid4(), roles=["org_admin"]))
    ).status_code == 404
    assert (await profiles.delete(url, headers=admin)).status_code == 204
    assert (await profiles.get(url, headers=admin)).status_code == 404
    assert (await profiles.delete(url, headers=admin)).status_code == 404

    async def erased():
        records = await read_topic(
            stack.kafka_bootstrap, "trellis.profiles.person", key=created["id"].encode()
        )
        return [from_kafka(r.headers, r.key, r.value) for r in records]

    events = await eventually(
        erased, until=lambda es: any(e.type.endswith("erased.v1") for e in es)
    )
    assert events[-1].data.person_id == uuid.UUID(created["id"])
    engine = create_async_engine(stack.service_database_url("profiles"))
    async with engine.connect() as conn:
        left = await conn.scalar(
            sa.text("SELECT count(*) FROM person WHERE id = :id"), {"id": created["id"]}
        )
    await engine.dispose()
    assert left == 0
