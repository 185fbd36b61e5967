"""Creating and reading organizations, against the real Postgres and Kafka."""

import uuid

import pytest

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


def _platform_admin() -> dict[str, str]:
    return bearer(org=uuid.uuid4(), roles=["platform_admin"])


async def _events(stack, topic: str, key: str):
    records = await read_topic(stack.kafka_bootstrap, topic, key=key.encode())
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def test_a_platform_admin_creates_an_organization_and_it_is_announced(profiles, stack):
    name = f"Acme University {uuid.uuid4().hex[:6]}"
    response = await profiles.post(
        "/profiles/organizations", json={"name": name}, headers=_platform_admin()
    )
    assert response.status_code == 201, response.text
    org = response.json()
    assert org["name"] == name
    assert org["slug"] == name.lower().replace(" ", "-")
    assert response.headers["location"] == f"/profiles/organizations/{org['id']}"

    [event] = await eventually(
        lambda: _events(stack, "trellis.profiles.organization", org["id"]), until=len
    )
    assert event.type == "trellis.profiles.organization.created.v1"
    # The new organization is its own tenant.
    assert str(event.tenant) == org["id"]
    assert event.data.name == name
    assert str(event.data.organization_id) == org["id"]


async def test_an_organization_is_read_by_platform_admins_and_its_own_people_only(profiles):
    created = await profiles.post(
        "/profiles/organizations",
        json={"name": "Hopper Foundation", "slug": f"hopper-{uuid.uuid4().hex[:8]}"},
        headers=_platform_admin(),
    )
    org_id = uuid.UUID(created.json()["id"])
    url = f"/profiles/organizations/{org_id}"

    as_platform = await profiles.get(url, headers=_platform_admin())
    as_own_admin = await profiles.get(url, headers=bearer(org=org_id, roles=["org_admin"]))
    as_own_member = await profiles.get(url, headers=bearer(org=org_id, roles=["member"]))
    as_stranger = await profiles.get(url, headers=bearer(org=uuid.uuid4(), roles=["org_admin"]))
    missing = await profiles.get(
        f"/profiles/organizations/{uuid.uuid4()}", headers=_platform_admin()
    )

    assert as_platform.status_code == 200
    assert as_platform.json()["slug"] == created.json()["slug"]
    assert as_own_admin.status_code == 200
    assert as_own_member.status_code == 200
    assert as_stranger.status_code == 404
    assert missing.status_code == 404
    assert as_stranger.json()["detail"] == f"No organization {org_id}"


async def test_only_a_platform_admin_creates_organizations(profiles):
    for roles in (["org_admin"], ["member"], ["partner"]):
        response = await profiles.post(
            "/profiles/organizations",
            json={"name": "Sneaky Org"},
            headers=bearer(org=uuid.uuid4(), roles=roles),
        )
        assert response.status_code == 403, roles


async def test_a_taken_slug_is_a_409_but_a_derived_one_gets_a_suffix(profiles):
    slug = f"taken-{uuid.uuid4().hex[:8]}"
    first = await profiles.post(
        "/profiles/organizations", json={"name": "First", "slug": slug}, headers=_platform_admin()
    )
    again = await profiles.post(
        "/profiles/organizations", json={"name": "Second", "slug": slug}, headers=_platform_admin()
    )
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.slug"

    name = f"Twin {uuid.uuid4().hex[:6]}"
    one = await profiles.post(
        "/profiles/organizations", json={"name": name}, headers=_platform_admin()
    )
    two = await profiles.post(
        "/profiles/organizations", json={"name": name}, headers=_platform_admin()
    )
    assert one.status_code == two.status_code == 201
    assert two.json()["slug"].startswith(one.json()["slug"] + "-")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.name"),
        ({"name": "   "}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"name": "Acme", "slug": "Not A Slug"}, "body.slug"),
        ({"name": "Acme", "plan": "enterprise"}, "body.plan"),
    ],
)
async def test_invalid_organizations_are_a_422_naming_the_field(profiles, body, field):
    response = await profiles.post("/profiles/organizations", json=body, headers=_platform_admin())
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_people_can_be_registered_for_an_org_without_an_organization_row(profiles):
    # Tenants are named by the token; the organization row is optional by design.
    org = uuid.uuid4()
    response = await profiles.post(
        "/profiles/people",
        json={"full_name": "Ada Lovelace", "email": f"ada.{org.hex[:8]}@example.org"},
        headers=bearer(org=org, roles=["org_admin"]),
    )
    assert response.status_code == 201, response.text
    assert (
        await profiles.get(
            f"/profiles/organizations/{org}", headers=bearer(org=org, roles=["org_admin"])
        )
    ).status_code == 404
