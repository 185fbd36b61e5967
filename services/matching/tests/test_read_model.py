"""Matching keeps its own copy of programs, people and enrollments from profiles' events."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_matching.main import create_app as create_matching
from trellis_matching.settings import MatchingSettings
from trellis_profiles.main import create_app as create_profiles
from trellis_profiles.settings import ProfilesSettings


@pytest.fixture
async def apps(stack):
    async with (
        running_app(create_profiles(settings_for(stack, "profiles", ProfilesSettings))) as profiles,
        running_app(create_matching(settings_for(stack, "matching", MatchingSettings))) as matching,
    ):
        yield profiles, matching


async def _rows(stack, sql: str, **params):
    engine = create_async_engine(stack.service_database_url("matching"))
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(sql), params)).mappings().all()
    finally:
        await engine.dispose()


async def test_profiles_facts_arrive_in_matchings_read_model(apps, stack):
    profiles, _ = apps
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    program = (
        await profiles.post("/profiles/programs", json={"name": "Women in Tech"}, headers=admin)
    ).json()
    mentor = (
        await profiles.post(
            "/profiles/people",
            json={
                "full_name": "Mentor One",
                "email": f"m.{uuid.uuid4().hex[:6]}@example.org",
                "languages": ["en", "es"],
                "skills": [{"name": "Kubernetes", "level": "expert"}],
                "seniority_level": 7,
            },
            headers=admin,
        )
    ).json()
    enrolled = await profiles.post(
        f"/profiles/programs/{program['id']}/enrollments",
        json={
            "person_id": mentor["id"],
            "role": "mentor",
            "capacity": 3,
            "topics": ["career growth"],
        },
        headers=admin,
    )
    assert enrolled.status_code == 201, enrolled.text

    people = await eventually(
        lambda: _rows(stack, "SELECT * FROM person_view WHERE id = :id", id=mentor["id"]),
        until=bool,
    )
    assert people[0]["profile"]["skills"] == [{"name": "Kubernetes", "level": "expert"}]
    assert "email" not in people[0]["profile"]
    enrollments = await eventually(
        lambda: _rows(
            stack, "SELECT * FROM enrollment_view WHERE person_id = :id", id=mentor["id"]
        ),
        until=bool,
    )
    assert enrollments[0]["capacity"] == 3 and enrollments[0]["role"] == "mentor"
    programs = await _rows(stack, "SELECT * FROM program_view WHERE id = :id", id=program["id"])
    assert programs[0]["settings"]["default_mentor_capacity"] >= 1

    # A change arrives as a newer version; erasure removes the person and their enrollments.
    read = await profiles.get(f"/profiles/people/{mentor['id']}", headers=admin)
    await profiles.patch(
        f"/profiles/people/{mentor['id']}",
        json={"seniority_level": 8},
        headers={**admin, "If-Match": read.headers["etag"]},
    )
    await eventually(
        lambda: _rows(stack, "SELECT version FROM person_view WHERE id = :id", id=mentor["id"]),
        until=lambda rows: rows and rows[0]["version"] == 2,
    )
    assert (
        await profiles.delete(f"/profiles/people/{mentor['id']}", headers=admin)
    ).status_code == 204
    await eventually(
        lambda: _rows(
            stack, "SELECT id FROM enrollment_view WHERE person_id = :id", id=mentor["id"]
        ),
        until=lambda rows: rows == [],
    )
    assert await _rows(stack, "SELECT id FROM person_view WHERE id = :id", id=mentor["id"]) == []
