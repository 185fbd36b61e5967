"""Sharing achievements, against the real Postgres and Kafka."""

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.contracts.profiles import AchievementShared
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic


@pytest.fixture
async def profiles(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        yield client


async def _person(profiles, org, **fields) -> str:
    body = {"full_name": "Ada Lovelace", "email": f"ada.{uuid.uuid4().hex[:8]}@example.org"}
    response = await profiles.post(
        "/profiles/people", json=body | fields, headers=bearer(org=org, roles=["org_admin"])
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _achievement(**overrides):
    body = {
        "kind": "certificate",
        "title": "AWS Solutions Architect",
        "description": "Passed the associate exam after three months with my mentor.",
        "url": "https://www.credly.com/badges/1234",
        "achieved_on": "2026-11-01",
    }
    return body | overrides


async def test_a_person_shares_an_achievement_and_partners_hear_of_it(profiles, stack):
    org = uuid.uuid4()
    ada = await _person(profiles, org)
    url = f"/profiles/people/{ada}/achievements"
    shared = await profiles.post(
        url, json=_achievement(), headers=bearer(org=org, roles=["member"], sub=ada)
    )
    assert shared.status_code == 201, shared.text
    achievement = shared.json()
    assert achievement["person_id"] == ada
    assert achievement["achieved_on"] == "2026-11-01"

    [record] = await eventually(
        lambda: read_topic(
            stack.kafka_bootstrap, AchievementShared.topic(), key=achievement["id"].encode()
        )
    )
    event = from_kafka(record.headers, record.key, record.value)
    assert event.type == "trellis.profiles.achievement.shared.v1"
    assert event.tenant == org
    assert str(event.data.person_id) == ada
    assert event.data.kind == "certificate"
    assert event.data.title == "AWS Solutions Architect"
    assert event.data.url == "https://www.credly.com/badges/1234"
    assert event.data.achieved_on == date(2026, 11, 1)

    by_admin = await profiles.post(
        url,
        json=_achievement(kind="milestone", title="First mentee", url=None),
        headers=bearer(org=org, roles=["org_admin"]),
    )
    assert by_admin.status_code == 201
    as_colleague = await profiles.get(url, headers=bearer(org=org, roles=["member"]))
    assert as_colleague.status_code == 200
    assert [a["title"] for a in as_colleague.json()["data"]] == [
        "First mentee",
        "AWS Solutions Architect",
    ]
    first_page = await profiles.get(
        url, params={"limit": 1}, headers=bearer(org=org, roles=["member"])
    )
    second_page = await profiles.get(
        url,
        params={"limit": 1, "cursor": first_page.json()["next_cursor"]},
        headers=bearer(org=org, roles=["member"]),
    )
    assert [a["title"] for a in second_page.json()["data"]] == ["AWS Solutions Architect"]
    assert second_page.json()["next_cursor"] is None


async def test_only_the_person_or_an_org_admin_shares_and_other_tenants_see_nothing(profiles):
    org = uuid.uuid4()
    ada = await _person(profiles, org)
    url = f"/profiles/people/{ada}/achievements"
    colleague = await profiles.post(
        url, json=_achievement(), headers=bearer(org=org, roles=["member"])
    )
    partner = await profiles.post(
        url, json=_achievement(), headers=bearer(org=org, roles=["partner"])
    )
    assert colleague.status_code == 403
    assert partner.status_code == 403

    elsewhere = bearer(org=uuid.uuid4(), roles=["org_admin"])
    assert (await profiles.post(url, json=_achievement(), headers=elsewhere)).status_code == 404
    assert (await profiles.get(url, headers=elsewhere)).status_code == 404
    missing = f"/profiles/people/{uuid.uuid4()}/achievements"
    assert (
        await profiles.get(missing, headers=bearer(org=org, roles=["member"]))
    ).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "http://example.org/cert"}, "body.url"),
        ({"url": "ftp://example.org/cert"}, "body.url"),
        ({"url": "https://"}, "body.url"),
        ({"url": "https://example.org/" + "a" * 2000}, "body.url"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"description": "x" * 2001}, "body.description"),
        ({"kind": "trophy"}, "body.kind"),
        ({"achieved_on": "yesterday"}, "body.achieved_on"),
        ({"achieved_on": (date.today() + timedelta(days=3)).isoformat()}, "body.achieved_on"),
        ({"shared_with": ["linkedin"]}, "body.shared_with"),
    ],
)
async def test_invalid_achievements_are_422_naming_the_field(profiles, overrides, field):
    org = uuid.uuid4()
    ada = await _person(profiles, org)
    response = await profiles.post(
        f"/profiles/people/{ada}/achievements",
        json=_achievement(**overrides),
        headers=bearer(org=org, roles=["member"], sub=ada),
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert field in response.json()["detail"]


async def test_today_is_the_persons_own_today(profiles):
    org = uuid.uuid4()
    # UTC+14: for ten hours of every UTC day, it is already tomorrow here.
    kiribati = await _person(profiles, org, time_zone="Pacific/Kiritimati")
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    headers = bearer(org=org, roles=["member"], sub=kiribati)
    url = f"/profiles/people/{kiribati}/achievements"

    on_time = await profiles.post(
        url, json=_achievement(achieved_on=today.isoformat()), headers=headers
    )
    too_soon = await profiles.post(
        url, json=_achievement(achieved_on=(today + timedelta(days=1)).isoformat()), headers=headers
    )
    assert on_time.status_code == 201, on_time.text
    assert too_soon.status_code == 422


async def test_erasure_removes_the_persons_achievements(profiles, stack):
    org = uuid.uuid4()
    ada = await _person(profiles, org)
    url = f"/profiles/people/{ada}/achievements"
    admin = bearer(org=org, roles=["org_admin"])
    assert (await profiles.post(url, json=_achievement(), headers=admin)).status_code == 201

    assert (await profiles.delete(f"/profiles/people/{ada}", headers=admin)).status_code == 204
    assert (await profiles.get(url, headers=admin)).status_code == 404
    # The rows themselves are gone, not merely unreachable.
    engine = create_async_engine(stack.service_database_url("profiles"))
    try:
        async with engine.connect() as conn:
            left = await conn.scalar(
                sa.text("SELECT count(*) FROM profiles.achievement WHERE person_id = :p"),
                {"p": uuid.UUID(ada)},
            )
    finally:
        await engine.dispose()
    assert left == 0
