"""Programs and their matching settings, against the real Postgres and Kafka."""

import uuid

import pytest

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic

TOPIC = "trellis.profiles.program"


@pytest.fixture
async def profiles(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        yield client


def _admin(org: uuid.UUID) -> dict[str, str]:
    return bearer(org=org, roles=["org_admin"])


def _program(**overrides):
    body = {
        "name": "Women in Engineering 2027",
        "description": "Senior engineers mentor early-career engineers for six months.",
        "cohort_starts_on": "2027-01-11",
        "cohort_ends_on": "2027-07-09",
        "enrollment_opens_on": "2026-11-01",
        "enrollment_closes_on": "2026-12-31",
        "matching": {
            "weights": {"skills": 3, "goals": 2.5, "language": 1, "preferences": 0},
            "constraints": {"max_time_zone_difference_hours": 6, "min_seniority_gap": 2},
            "default_mentor_capacity": 2,
            "max_mentor_capacity": 4,
        },
    }
    body.update(overrides)
    return body


async def _events(stack, key: str):
    records = await read_topic(stack.kafka_bootstrap, TOPIC, key=key.encode())
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def test_an_org_admin_sets_up_a_program_and_it_is_announced(profiles, stack):
    org = uuid.uuid4()
    response = await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    assert response.status_code == 201, response.text
    program = response.json()
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"/profiles/programs/{program['id']}"
    assert program["organization_id"] == str(org)
    assert program["kind"] == "one_to_one"
    assert (program["meeting_cadence_days"], program["meeting_minutes"]) == (14, 45)
    assert program["health_threshold"] == 50
    weights = program["matching"]["weights"]
    assert (weights["skills"], weights["goals"], weights["preferences"]) == (3, 2.5, 0)
    # Factors left out keep their default weight.
    assert weights["availability"] == 1
    assert program["matching"]["constraints"]["shared_language_required"] is True

    [event] = await eventually(lambda: _events(stack, program["id"]), until=len)
    assert event.type == "trellis.profiles.program.created.v1"
    assert event.tenant == org
    assert event.data.name == "Women in Engineering 2027"
    assert event.data.version == 1
    assert event.data.matching.weights.skills == 3
    assert event.data.matching.constraints.max_time_zone_difference_hours == 6
    assert event.data.matching.default_mentor_capacity == 2
    assert str(event.data.cohort_ends_on) == "2027-07-09"


async def test_members_read_programs_but_only_org_admins_write_them(profiles):
    org = uuid.uuid4()
    created = (
        await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    ).json()
    member = bearer(org=org, roles=["member"])

    read = await profiles.get(f"/profiles/programs/{created['id']}", headers=member)
    listed = await profiles.get("/profiles/programs", headers=member)
    create = await profiles.post("/profiles/programs", json=_program(), headers=member)
    patch = await profiles.patch(
        f"/profiles/programs/{created['id']}",
        json={"name": "Mine now"},
        headers=member | {"If-Match": 'W/"1"'},
    )

    assert read.status_code == 200
    assert read.headers["etag"] == 'W/"1"'
    assert [p["id"] for p in listed.json()["data"]] == [created["id"]]
    assert create.status_code == 403
    assert patch.status_code == 403


async def test_another_organizations_program_is_not_found(profiles):
    org = uuid.uuid4()
    created = (
        await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    ).json()
    stranger = _admin(uuid.uuid4())
    url = f"/profiles/programs/{created['id']}"

    read = await profiles.get(url, headers=stranger)
    patch = await profiles.patch(url, json={"name": "x"}, headers=stranger | {"If-Match": 'W/"1"'})
    listed = await profiles.get("/profiles/programs", headers=stranger)
    missing = await profiles.get(f"/profiles/programs/{uuid.uuid4()}", headers=_admin(org))

    assert read.status_code == patch.status_code == missing.status_code == 404
    assert listed.json() == {"data": [], "next_cursor": None}


async def test_programs_are_listed_a_page_at_a_time(profiles):
    org = uuid.uuid4()
    ids = [
        (
            await profiles.post(
                "/profiles/programs", json=_program(name=f"Cohort {n}"), headers=_admin(org)
            )
        ).json()["id"]
        for n in range(3)
    ]
    first = (await profiles.get("/profiles/programs?limit=2", headers=_admin(org))).json()
    second = (
        await profiles.get(
            "/profiles/programs",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=_admin(org),
        )
    ).json()
    assert [p["id"] for p in first["data"] + second["data"]] == ids
    assert first["next_cursor"] is not None
    assert second["next_cursor"] is None

    bad = await profiles.get("/profiles/programs?cursor=nonsense", headers=_admin(org))
    assert bad.status_code == 422


def _with_matching(**matching):
    return _program(matching=matching)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "x" * 201}, "body.name"),
        ({"description": "x" * 5001}, "body.description"),
        ({"kind": "circle"}, "body.kind"),
        ({"kind": "group"}, "body.kind"),
        ({"cohort_starts_on": "2027-02-01", "cohort_ends_on": "2027-01-31"}, "body.cohort_ends_on"),
        (
            {"enrollment_opens_on": "2026-12-01", "enrollment_closes_on": "2026-11-30"},
            "body.enrollment_closes_on",
        ),
        ({"cohort_starts_on": "next monday"}, "body.cohort_starts_on"),
        ({"meeting_cadence_days": 0}, "body.meeting_cadence_days"),
        ({"meeting_cadence_days": 91}, "body.meeting_cadence_days"),
        ({"meeting_minutes": 10}, "body.meeting_minutes"),
        ({"meeting_minutes": 241}, "body.meeting_minutes"),
        ({"health_threshold": 101}, "body.health_threshold"),
        ({"colour": "teal"}, "body.colour"),
        (
            _with_matching(
                weights={
                    k: 0
                    for k in (
                        "skills",
                        "goals",
                        "availability",
                        "language",
                        "time_zone",
                        "seniority",
                        "industry",
                        "preferences",
                        "style",
                    )
                }
            ),
            "body.matching.weights",
        ),
        (_with_matching(weights={"skills": -1}), "body.matching.weights.skills"),
        (_with_matching(weights={"goals": 101}), "body.matching.weights.goals"),
        (_with_matching(weights={"charisma": 5}), "body.matching.weights.charisma"),
        (
            _with_matching(constraints={"max_time_zone_difference_hours": 25}),
            "body.matching.constraints.max_time_zone_difference_hours",
        ),
        (
            _with_matching(constraints={"min_seniority_gap": 11}),
            "body.matching.constraints.min_seniority_gap",
        ),
        (
            _with_matching(constraints={"shared_language_required": "maybe"}),
            "body.matching.constraints.shared_language_required",
        ),
        (_with_matching(default_mentor_capacity=0), "body.matching.default_mentor_capacity"),
        (
            _with_matching(default_mentor_capacity=4, max_mentor_capacity=3),
            "body.matching.max_mentor_capacity",
        ),
        (_with_matching(max_mentor_capacity=51), "body.matching.max_mentor_capacity"),
        (_with_matching(algorithm="stable-marriage"), "body.matching.algorithm"),
    ],
)
async def test_invalid_programs_are_a_422_naming_the_field(profiles, body, field):
    payload = _program()
    payload.update(body)
    response = await profiles.post("/profiles/programs", json=payload, headers=_admin(uuid.uuid4()))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]]
    assert field in problem["detail"]


async def test_group_programs_are_refused_as_not_supported_yet(profiles):
    response = await profiles.post(
        "/profiles/programs", json=_program(kind="group"), headers=_admin(uuid.uuid4())
    )
    assert response.status_code == 422
    assert "not supported yet" in response.json()["detail"]


async def test_a_program_patch_needs_the_current_version(profiles, stack):
    org = uuid.uuid4()
    created = (
        await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    ).json()
    url = f"/profiles/programs/{created['id']}"
    change = {
        "meeting_minutes": 60,
        "health_threshold": 65,
        "matching": {"weights": {"skills": 5, "style": 0.5}},
    }

    missing = await profiles.patch(url, json=change, headers=_admin(org))
    stale = await profiles.patch(url, json=change, headers=_admin(org) | {"If-Match": 'W/"7"'})
    assert missing.status_code == 428
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == 'W/"1"'

    updated = await profiles.patch(url, json=change, headers=_admin(org) | {"If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == 'W/"2"'
    program = updated.json()
    assert program["version"] == 2
    assert program["meeting_minutes"] == 60
    # `matching` merges: what was not sent keeps its value.
    assert program["matching"]["weights"]["skills"] == 5
    assert program["matching"]["weights"]["goals"] == 2.5
    assert program["matching"]["default_mentor_capacity"] == 2
    assert program["name"] == created["name"]

    replay = await profiles.patch(url, json=change, headers=_admin(org) | {"If-Match": 'W/"1"'})
    assert replay.status_code == 412

    events = await eventually(lambda: _events(stack, created["id"]), until=lambda e: len(e) >= 2)
    assert [e.type for e in events] == [
        "trellis.profiles.program.created.v1",
        "trellis.profiles.program.updated.v1",
    ]
    assert events[1].data.version == 2
    assert events[1].data.meeting_minutes == 60
    assert events[1].data.health_threshold == 65
    assert events[1].data.matching.weights.style == 0.5
    assert events[1].data.matching.weights.skills == 5
    assert events[1].data.matching.weights.goals == 2.5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cohort_ends_on": "2027-01-01"}, "body.cohort_ends_on"),
        ({"enrollment_opens_on": "2027-02-01"}, "body.enrollment_closes_on"),
        ({"matching": {"max_mentor_capacity": 1}}, "body.matching.max_mentor_capacity"),
        ({"matching": {"weights": {"skills": None}}}, "body.matching.weights.skills"),
        ({"name": None}, "body.name"),
        ({"kind": "group"}, "body.kind"),
        ({"matching": {"weights": {"skils": 2}}}, "body.matching.weights.skils"),
    ],
)
async def test_a_patch_must_leave_a_valid_program(profiles, change, field):
    org = uuid.uuid4()
    created = (
        await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    ).json()
    url = f"/profiles/programs/{created['id']}"
    response = await profiles.patch(url, json=change, headers=_admin(org) | {"If-Match": 'W/"1"'})
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    unchanged = await profiles.get(url, headers=_admin(org))
    assert unchanged.json()["version"] == 1


async def test_a_patch_can_clear_optional_dates_and_constraints(profiles):
    org = uuid.uuid4()
    created = (
        await profiles.post("/profiles/programs", json=_program(), headers=_admin(org))
    ).json()
    response = await profiles.patch(
        f"/profiles/programs/{created['id']}",
        json={
            "enrollment_closes_on": None,
            "matching": {"constraints": {"max_time_zone_difference_hours": None}},
        },
        headers=_admin(org) | {"If-Match": 'W/"1"'},
    )
    assert response.status_code == 200, response.text
    program = response.json()
    assert program["enrollment_closes_on"] is None
    assert program["enrollment_opens_on"] == "2026-11-01"
    assert program["matching"]["constraints"]["max_time_zone_difference_hours"] is None
    assert program["matching"]["constraints"]["min_seniority_gap"] == 2
