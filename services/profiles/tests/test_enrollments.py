"""Enrolling people in programs as mentors and mentees, against the real Postgres and Kafka."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_profiles.main import create_app
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic

TOPIC = "trellis.profiles.enrollment"


@pytest.fixture
async def profiles(stack):
    app = create_app(settings_for(stack, "profiles", ProfilesSettings))
    async with running_app(app) as client:
        yield client


def _admin(org: uuid.UUID) -> dict[str, str]:
    return bearer(org=org, roles=["org_admin"])


def _as(org: uuid.UUID, person_id: str) -> dict[str, str]:
    return bearer(org=org, roles=["member"], sub=person_id)


def _day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def _program(profiles, org, **overrides) -> dict:
    body = {
        "name": "Alumni Mentoring",
        "enrollment_opens_on": _day(0),
        "enrollment_closes_on": _day(30),
        "matching": {"default_mentor_capacity": 2, "max_mentor_capacity": 3},
    }
    body.update(overrides)
    response = await profiles.post("/profiles/programs", json=body, headers=_admin(org))
    assert response.status_code == 201, response.text
    return response.json()


async def _person(profiles, org, name="Katherine Johnson") -> str:
    response = await profiles.post(
        "/profiles/people",
        json={"full_name": name, "email": f"{uuid.uuid4().hex[:10]}@example.org"},
        headers=_admin(org),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _enroll(profiles, org, program_id, body, headers=None):
    return await profiles.post(
        f"/profiles/programs/{program_id}/enrollments", json=body, headers=headers or _admin(org)
    )


async def _events(stack, key: str):
    records = await read_topic(stack.kafka_bootstrap, TOPIC, key=key.encode())
    return [from_kafka(r.headers, r.key, r.value) for r in records]


async def test_mentors_and_mentees_enroll_and_it_is_announced(profiles, stack):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    mentor, mentee = await _person(profiles, org), await _person(profiles, org, "Mary Jackson")

    as_mentor = await _enroll(
        profiles, org, program["id"], {"person_id": mentor, "role": "mentor", "topics": ["Rust"]}
    )
    as_mentee = await _enroll(
        profiles,
        org,
        program["id"],
        {
            "person_id": mentee,
            "role": "mentee",
            "goals": [{"category": "career", "description": "Lead a team within a year"}],
        },
    )
    assert as_mentor.status_code == 201, as_mentor.text
    assert as_mentee.status_code == 201, as_mentee.text
    enrollment = as_mentor.json()
    # Without a capacity, a mentor gets the program's default.
    assert enrollment["capacity"] == 2
    assert enrollment["status"] == "active"
    assert enrollment["topics"] == ["Rust"]
    assert as_mentor.headers["location"] == f"/profiles/enrollments/{enrollment['id']}"
    assert as_mentor.headers["etag"] == 'W/"1"'
    assert as_mentee.json()["capacity"] is None
    assert as_mentee.json()["goals"] == [
        {"category": "career", "description": "Lead a team within a year"}
    ]

    [event] = await eventually(lambda: _events(stack, enrollment["id"]), until=len)
    assert event.type == "trellis.profiles.enrollment.created.v1"
    assert event.tenant == org
    assert str(event.data.program_id) == program["id"]
    assert str(event.data.person_id) == mentor
    assert (event.data.role, event.data.capacity, event.data.topics) == ("mentor", 2, ["Rust"])

    [mentee_event] = await eventually(lambda: _events(stack, as_mentee.json()["id"]), until=len)
    assert mentee_event.data.goals[0].description == "Lead a team within a year"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "mentor", "capacity": 4}, "body.capacity"),
        ({"role": "mentor", "capacity": -1}, "body.capacity"),
        ({"role": "mentee", "capacity": 1}, "body.capacity"),
        ({"role": "mentee", "topics": ["Go"]}, "body.topics"),
        ({"role": "mentor", "goals": [{"category": "x", "description": "y"}]}, "body.goals"),
        ({"role": "coach"}, "body.role"),
        (
            {"role": "mentee", "goals": [{"category": "c", "description": "d"}] * 11},
            "body.goals",
        ),
        (
            {"role": "mentee", "goals": [{"category": "career", "description": "x" * 1001}]},
            "body.goals.0.description",
        ),
        (
            {"role": "mentee", "goals": [{"category": "x" * 101, "description": "y"}]},
            "body.goals.0.category",
        ),
        (
            {"role": "mentee", "goals": [{"category": "c", "description": "d", "due": 1}]},
            "body.goals.0.due",
        ),
        ({"role": "mentor", "topics": [f"t{n}" for n in range(31)]}, "body.topics"),
        ({"role": "mentor", "topics": ["x" * 101]}, "body.topics.0"),
        ({"role": "mentor", "status": "vip"}, "body.status"),
    ],
)
async def test_invalid_enrollments_are_a_422_naming_the_field(profiles, body, field):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    person = await _person(profiles, org)
    response = await _enroll(profiles, org, program["id"], {"person_id": person} | body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_the_person_must_belong_to_the_organization(profiles):
    org, other = uuid.uuid4(), uuid.uuid4()
    program = await _program(profiles, org)
    stranger = await _person(profiles, other)
    for person_id in (stranger, str(uuid.uuid4())):
        response = await _enroll(
            profiles, org, program["id"], {"person_id": person_id, "role": "mentee"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "body.person_id"


async def test_another_organizations_program_or_enrollment_is_not_found(profiles):
    org, other = uuid.uuid4(), uuid.uuid4()
    program = await _program(profiles, org)
    person = await _person(profiles, org)
    enrollment = (
        await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentee"})
    ).json()
    outsider = await _person(profiles, other)

    into_foreign = await _enroll(
        profiles, other, program["id"], {"person_id": outsider, "role": "mentee"}, _admin(other)
    )
    list_foreign = await profiles.get(
        f"/profiles/programs/{program['id']}/enrollments", headers=_admin(other)
    )
    read_foreign = await profiles.get(
        f"/profiles/enrollments/{enrollment['id']}", headers=_admin(other)
    )
    withdraw_foreign = await profiles.post(
        f"/profiles/enrollments/{enrollment['id']}/withdraw", headers=_admin(other)
    )
    person_foreign = await profiles.get(
        f"/profiles/people/{person}/enrollments", headers=_admin(other)
    )
    no_program = await _enroll(profiles, org, uuid.uuid4(), {"person_id": person, "role": "mentor"})
    assert into_foreign.status_code == 404
    assert list_foreign.status_code == 404
    assert read_foreign.status_code == 404
    assert withdraw_foreign.status_code == 404
    assert person_foreign.status_code == 404
    assert no_program.status_code == 404
    still = await profiles.get(f"/profiles/enrollments/{enrollment['id']}", headers=_admin(org))
    assert still.json()["status"] == "active"


async def test_a_member_enrolls_themselves_but_nobody_else(profiles):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    me, someone = await _person(profiles, org), await _person(profiles, org, "Dorothy Vaughan")

    mine = await _enroll(
        profiles, org, program["id"], {"person_id": me, "role": "mentor"}, _as(org, me)
    )
    theirs = await _enroll(
        profiles, org, program["id"], {"person_id": someone, "role": "mentee"}, _as(org, me)
    )
    partner = await _enroll(
        profiles,
        org,
        program["id"],
        {"person_id": someone, "role": "mentee"},
        bearer(org=org, roles=["partner"]),
    )
    assert mine.status_code == 201, mine.text
    assert theirs.status_code == 403
    assert partner.status_code == 403


async def test_enrolling_outside_the_window_is_a_409_with_the_reason(profiles):
    org = uuid.uuid4()
    person = await _person(profiles, org)
    upcoming = await _program(
        profiles, org, enrollment_opens_on=_day(3), enrollment_closes_on=_day(10)
    )
    closed = await _program(
        profiles, org, enrollment_opens_on=_day(-10), enrollment_closes_on=_day(-1)
    )
    last_day = await _program(
        profiles, org, enrollment_opens_on=_day(-10), enrollment_closes_on=_day(0)
    )
    body = {"person_id": person, "role": "mentee"}

    early = await _enroll(profiles, org, upcoming["id"], body)
    late = await _enroll(profiles, org, closed["id"], body)
    on_time = await _enroll(profiles, org, last_day["id"], body)

    assert early.status_code == 409
    assert early.json()["detail"] == f"Enrollment in this program opens on {_day(3)}"
    assert late.status_code == 409
    assert late.json()["detail"] == f"Enrollment in this program closed on {_day(-1)}"
    assert on_time.status_code == 201


async def test_the_same_person_and_role_twice_is_a_409(profiles):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    person = await _person(profiles, org)

    first = await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentor"})
    again = await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentor"})
    other_role = await _enroll(
        profiles, org, program["id"], {"person_id": person, "role": "mentee"}
    )
    assert first.status_code == 201
    assert again.status_code == 409
    assert "already enrolled as mentor" in again.json()["detail"]
    # Mentoring and being mentored in one program are separate enrollments.
    assert other_role.status_code == 201

    await profiles.post(f"/profiles/enrollments/{first.json()['id']}/withdraw", headers=_admin(org))
    rejoined = await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentor"})
    assert rejoined.status_code == 201


async def test_withdrawing_is_for_the_person_or_an_admin_and_only_once(profiles, stack):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    me, someone = await _person(profiles, org), await _person(profiles, org, "Annie Easley")
    enrollment = (
        await _enroll(profiles, org, program["id"], {"person_id": me, "role": "mentee"})
    ).json()
    url = f"/profiles/enrollments/{enrollment['id']}/withdraw"

    by_someone = await profiles.post(url, headers=_as(org, someone))
    by_me = await profiles.post(url, headers=_as(org, me))
    twice = await profiles.post(url, headers=_admin(org))

    assert by_someone.status_code == 403
    assert by_me.status_code == 200, by_me.text
    assert by_me.json()["status"] == "withdrawn"
    assert by_me.json()["withdrawn_at"] is not None
    assert by_me.json()["version"] == 2
    assert twice.status_code == 409

    events = await eventually(lambda: _events(stack, enrollment["id"]), until=lambda e: len(e) >= 2)
    assert [e.type for e in events] == [
        "trellis.profiles.enrollment.created.v1",
        "trellis.profiles.enrollment.withdrawn.v1",
    ]
    withdrawn = events[1].data
    assert (str(withdrawn.person_id), str(withdrawn.program_id), withdrawn.role) == (
        me,
        program["id"],
        "mentee",
    )
    assert events[1].tenant == org


async def test_enrollments_are_listed_per_program_and_per_person(profiles):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    other_program = await _program(profiles, org, name="Returners")
    mentors = [await _person(profiles, org, f"Mentor {n}") for n in range(3)]
    me, other_mentee = await _person(profiles, org), await _person(profiles, org, "Other")
    for person in mentors:
        await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentor"})
    mine = (await _enroll(profiles, org, program["id"], {"person_id": me, "role": "mentee"})).json()
    await _enroll(profiles, org, program["id"], {"person_id": other_mentee, "role": "mentee"})
    elsewhere = (
        await _enroll(profiles, org, other_program["id"], {"person_id": me, "role": "mentor"})
    ).json()
    url = f"/profiles/programs/{program['id']}/enrollments"

    everyone = (await profiles.get(url, headers=_admin(org))).json()["data"]
    only_mentors = (await profiles.get(url, params={"role": "mentor"}, headers=_admin(org))).json()
    page = (await profiles.get(url, params={"limit": 2}, headers=_admin(org))).json()
    rest = (
        await profiles.get(
            url, params={"limit": 10, "cursor": page["next_cursor"]}, headers=_admin(org)
        )
    ).json()
    as_member = (await profiles.get(url, headers=_as(org, me))).json()["data"]

    assert len(everyone) == 5
    assert [e["person_id"] for e in only_mentors["data"]] == mentors
    assert [e["id"] for e in page["data"] + rest["data"]] == [e["id"] for e in everyone]
    assert rest["next_cursor"] is None
    # A member sees the mentors on offer and their own enrollment, not other mentees' goals.
    assert {e["person_id"] for e in as_member} == {*mentors, me}

    person_url = f"/profiles/people/{me}/enrollments"
    own = (await profiles.get(person_url, headers=_as(org, me))).json()["data"]
    by_admin = (await profiles.get(person_url, headers=_admin(org))).json()["data"]
    by_other = await profiles.get(person_url, headers=_as(org, other_mentee))
    assert [e["id"] for e in own] == [mine["id"], elsewhere["id"]]
    assert by_admin == own
    assert by_other.status_code == 403

    other_mentee_enrollment = next(e for e in everyone if e["person_id"] == other_mentee)
    peek = await profiles.get(
        f"/profiles/enrollments/{other_mentee_enrollment['id']}", headers=_as(org, me)
    )
    assert peek.status_code == 403


async def test_an_enrollment_patch_needs_the_current_version_and_respects_the_program(
    profiles, stack
):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    mentor = await _person(profiles, org)
    enrollment = (
        await _enroll(profiles, org, program["id"], {"person_id": mentor, "role": "mentor"})
    ).json()
    url = f"/profiles/enrollments/{enrollment['id']}"

    missing = await profiles.patch(url, json={"capacity": 3}, headers=_as(org, mentor))
    too_many = await profiles.patch(
        url, json={"capacity": 4}, headers=_as(org, mentor) | {"If-Match": 'W/"1"'}
    )
    ok = await profiles.patch(
        url,
        json={"capacity": 3, "topics": ["Negotiation"]},
        headers=_as(org, mentor) | {"If-Match": 'W/"1"'},
    )
    stale = await profiles.patch(
        url, json={"capacity": 1}, headers=_as(org, mentor) | {"If-Match": 'W/"1"'}
    )

    assert missing.status_code == 428
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "body.capacity"
    assert ok.status_code == 200, ok.text
    assert (ok.json()["capacity"], ok.json()["topics"], ok.json()["version"]) == (
        3,
        ["Negotiation"],
        2,
    )
    assert ok.headers["etag"] == 'W/"2"'
    assert stale.status_code == 412

    events = await eventually(lambda: _events(stack, enrollment["id"]), until=lambda e: len(e) >= 2)
    assert events[1].type == "trellis.profiles.enrollment.updated.v1"
    assert (events[1].data.capacity, events[1].data.version) == (3, 2)


async def test_erasing_a_person_removes_their_enrollments(profiles, stack):
    org = uuid.uuid4()
    program = await _program(profiles, org)
    person = await _person(profiles, org)
    enrollment = (
        await _enroll(profiles, org, program["id"], {"person_id": person, "role": "mentee"})
    ).json()

    erased = await profiles.delete(f"/profiles/people/{person}", headers=_admin(org))
    assert erased.status_code == 204

    gone = await profiles.get(f"/profiles/enrollments/{enrollment['id']}", headers=_admin(org))
    listed = await profiles.get(
        f"/profiles/programs/{program['id']}/enrollments", headers=_admin(org)
    )
    assert gone.status_code == 404
    assert listed.json()["data"] == []
    engine = create_async_engine(stack.service_database_url("profiles"))
    async with engine.connect() as conn:
        rows = await conn.scalar(
            sa.text("SELECT count(*) FROM profiles.enrollment WHERE person_id = :p"),
            {"p": person},
        )
    await engine.dispose()
    assert rows == 0
