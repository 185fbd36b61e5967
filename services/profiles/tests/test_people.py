"""Registering and reading people, against the real Postgres and Kafka."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings


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
