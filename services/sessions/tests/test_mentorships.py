"""Mentorships: started once per accepted match, seen only by their people, moved through their
life by validated transitions, each announced as an event."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from trellis_infra.pytest_plugin import eventually, settings_for
from trellis_sessions.mentorships.service import resume_due
from trellis_sessions.settings import SessionsSettings
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s
from trellis_shared.db import create_engine, create_sessionmaker

CLOSING = {"rating": 5, "goals_met": "fully", "would_recommend": True, "comments": "Great year"}


async def test_an_accepted_match_starts_a_mentorship_with_the_programs_plan(world):
    pair = await world.pair(cadence_days=7, meeting_minutes=30, score=0.81)
    mentorship = pair.mentorship

    assert mentorship["status"] == "active"
    assert mentorship["program_id"] == str(pair.program_id)
    assert (mentorship["mentor_id"], mentorship["mentee_id"]) == (
        str(pair.mentor_id),
        str(pair.mentee_id),
    )
    assert (mentorship["cadence_days"], mentorship["meeting_minutes"]) == (7, 30)
    assert mentorship["match_score"] == 0.81
    assert {(x["side"], x["full_name"], x["time_zone"]) for x in mentorship["participants"]} == {
        ("mentor", "Maya Mentor", "America/New_York"),
        ("mentee", "Theo Mentee", "Europe/London"),
    }
    [started] = await eventually(lambda: world.events(s.MentorshipStarted, pair.id))
    assert started.type == "trellis.sessions.mentorship.started.v1"
    assert started.tenant == pair.org
    assert started.data.match_id == pair.match_id
    assert started.data.match_score == 0.81
    assert started.data.cadence_days == 7


async def test_a_duplicated_match_accepted_starts_one_mentorship(world):
    pair = await world.pair()
    # The same match announced again (a producer retry gets a new event id): still one mentorship.
    await world.accept(
        pair.org, pair.program_id, pair.mentor_id, pair.mentee_id, match_id=pair.match_id
    )
    marker = await world.pair(org=pair.org, program_id=pair.program_id)  # sessions got past it

    rows = await world.rows("SELECT id FROM mentorship WHERE match_id = :m", m=pair.match_id)
    assert [str(r["id"]) for r in rows] == [pair.id]
    assert marker.id != pair.id
    assert len(await world.events(s.MentorshipStarted, pair.id)) == 1


async def test_a_match_ahead_of_its_program_takes_the_platform_defaults(world):
    org = uuid.uuid4()
    unknown_program = uuid.uuid4()
    pair = await world.pair(org=org, program_id=unknown_program)
    assert (pair.mentorship["cadence_days"], pair.mentorship["meeting_minutes"]) == (14, 45)


async def test_only_its_participants_and_org_admins_see_a_mentorship(world):
    pair = await world.pair()
    for headers in (pair.mentor, pair.mentee, pair.admin):
        response = await world.sessions.get(pair.url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == 'W/"1"'
    for headers in (pair.stranger, pair.other_org_admin):
        response = await world.sessions.get(pair.url, headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")

    mine = await world.sessions.get("/sessions/mentorships", headers=pair.stranger)
    assert mine.status_code == 200 and mine.json()["data"] == []
    prying = await world.sessions.get(
        "/sessions/mentorships", params={"person": str(pair.mentee_id)}, headers=pair.stranger
    )
    assert prying.status_code == 403
    by_admin = await world.sessions.get(
        "/sessions/mentorships", params={"person": str(pair.mentee_id)}, headers=pair.admin
    )
    assert [x["id"] for x in by_admin.json()["data"]] == [pair.id]
    elsewhere = await world.sessions.get(
        "/sessions/mentorships",
        params={"person": str(pair.mentee_id)},
        headers=pair.other_org_admin,
    )
    assert elsewhere.json()["data"] == []


async def test_pause_resume_and_end_are_validated_and_announced(world):
    pair = await world.pair()
    resume_on = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()

    paused = await world.sessions.post(
        f"{pair.url}/pause",
        json={"reason": "Parental leave", "resume_on": resume_on},
        headers=pair.mentee,
    )
    assert paused.status_code == 200, paused.text
    assert (paused.json()["status"], paused.json()["resume_on"]) == ("paused", resume_on)
    again = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "x"}, headers=pair.mentor
    )
    assert again.status_code == 409
    assert "paused" in again.json()["detail"]

    resumed = await world.sessions.post(f"{pair.url}/resume", headers=pair.mentor)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    ended = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "Changed jobs"}, headers=pair.admin
    )
    assert ended.status_code == 200
    assert (ended.json()["status"], ended.json()["end_reason"]) == ("ended", "Changed jobs")
    assert ended.json()["version"] == 4
    # Ended early, each side may still leave the closing evaluation the survey asks for.
    late = await world.sessions.post(f"{pair.url}/complete", json=CLOSING, headers=pair.mentee)
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "ended"
    twice = await world.sessions.post(f"{pair.url}/complete", json=CLOSING, headers=pair.mentee)
    by_admin = await world.sessions.post(f"{pair.url}/complete", headers=pair.admin)
    assert (twice.status_code, by_admin.status_code) == (409, 409)
    assert "ended" in by_admin.json()["detail"]
    own = await world.sessions.get(f"{pair.url}/evaluations", headers=pair.mentee)
    assert [e["side"] for e in own.json()] == ["mentee"]

    kinds = [
        e.type.split(".")[3]
        for e in await eventually(
            lambda: world.events(s.MentorshipStarted, pair.id), until=lambda e: len(e) >= 4
        )
    ]
    assert kinds == ["started", "paused", "resumed", "ended"]
    [ended_event] = [
        e for e in await world.events(s.MentorshipEnded, pair.id) if e.type.endswith("ended.v1")
    ]
    assert (ended_event.data.ended_by, ended_event.data.reason) == ("admin", "Changed jobs")


@pytest.fixture
async def resume_sweep(stack):
    """One pass of the resume job as of a given day (the app's own runs every 5 minutes)."""
    settings = settings_for(stack, "sessions", SessionsSettings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine, settings)

    async def sweep(today: date) -> None:
        async with sessionmaker() as session, session.begin():
            await resume_due(session=session, today=today)

    yield sweep
    await engine.dispose()


async def test_a_pause_with_a_resume_date_ends_by_itself_on_that_date(world, resume_sweep):
    pair = await world.pair()
    resume_on = datetime.now(UTC).date() + timedelta(days=7)
    paused = await world.sessions.post(
        f"{pair.url}/pause",
        json={"reason": "Travelling", "resume_on": resume_on.isoformat()},
        headers=pair.mentor,
    )
    assert paused.status_code == 200, paused.text

    await resume_sweep(resume_on - timedelta(days=1))
    still = await world.sessions.get(pair.url, headers=pair.mentee)
    assert still.json()["status"] == "paused"

    await resume_sweep(resume_on)
    resumed = (await world.sessions.get(pair.url, headers=pair.mentee)).json()
    assert (resumed["status"], resumed["resume_on"], resumed["version"]) == ("active", None, 3)
    events = await eventually(
        lambda: world.events(s.MentorshipStarted, pair.id), until=lambda e: len(e) >= 3
    )
    assert [e.type.split(".")[3] for e in events] == ["started", "paused", "resumed"]
    assert events[2].data.resumed_by == "system"
    await resume_sweep(resume_on)  # a later sweep finds nothing to do: no second transition
    again = (await world.sessions.get(pair.url, headers=pair.mentee)).json()
    assert (again["status"], again["version"]) == ("active", 3)


async def test_bad_transitions_name_the_field(world):
    pair = await world.pair()
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    for body, field in (
        ({"reason": "x", "resume_on": yesterday}, "body.resume_on"),
        ({"reason": ""}, "body.reason"),
        ({"reason": "x" * 501}, "body.reason"),
        ({"reason": "x", "status": "completed"}, "body.status"),
    ):
        response = await world.sessions.post(f"{pair.url}/pause", json=body, headers=pair.mentor)
        assert response.status_code == 422, (body, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    bare = await world.sessions.post(f"{pair.url}/complete", headers=pair.mentee)
    assert bare.status_code == 422
    low = await world.sessions.post(
        f"{pair.url}/complete", json=CLOSING | {"rating": 0}, headers=pair.mentee
    )
    assert low.status_code == 422
    assert "body.rating" in {e["field"] for e in low.json()["errors"]}
    stranger = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "x"}, headers=pair.stranger
    )
    assert stranger.status_code == 404


async def test_text_postgres_cannot_store_is_a_422_not_a_500(world):
    """A NUL character passes validation but Postgres refuses it: the request is bad, the
    mentorship stays as it was (schemathesis found POST .../end answering 500)."""
    pair = await world.pair()
    response = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "moved\u0000away"}, headers=pair.mentor
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    still = await world.sessions.get(pair.url, headers=pair.mentor)
    assert still.json()["status"] == "active"


async def test_completion_collects_each_sides_evaluation_once(world):
    pair = await world.pair()
    completed = await world.sessions.post(f"{pair.url}/complete", json=CLOSING, headers=pair.mentee)
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    assert completed.json()["completed_at"]

    theirs = await world.sessions.post(
        f"{pair.url}/complete",
        json={"rating": 4, "goals_met": "partly", "would_recommend": True},
        headers=pair.mentor,
    )
    assert theirs.status_code == 200
    twice = await world.sessions.post(f"{pair.url}/complete", json=CLOSING, headers=pair.mentee)
    assert twice.status_code == 409
    by_admin = await world.sessions.post(f"{pair.url}/complete", headers=pair.admin)
    assert by_admin.status_code == 409

    own = await world.sessions.get(f"{pair.url}/evaluations", headers=pair.mentee)
    assert [(e["side"], e["rating"]) for e in own.json()] == [("mentee", 5)]
    both = await world.sessions.get(f"{pair.url}/evaluations", headers=pair.admin)
    assert sorted(e["side"] for e in both.json()) == ["mentee", "mentor"]
    events = await eventually(
        lambda: world.events(s.MentorshipCompleted, pair.id), until=lambda e: len(e) >= 2
    )
    assert [e.type.split(".")[3] for e in events] == ["started", "completed"]
    assert events[1].data.completed_by == "mentee"


async def test_erasing_a_person_ends_their_mentorships_and_blanks_what_they_wrote(world):
    pair = await world.pair()
    other = await world.pair(org=pair.org, program_id=pair.program_id)
    done = await world.sessions.post(f"{other.url}/complete", json=CLOSING, headers=other.mentee)
    assert done.status_code == 200

    for erased_pair in (pair, other):
        await world.publish(
            p.PersonErased(person_id=erased_pair.mentee_id, erased_at=datetime.now(UTC)),
            org=pair.org,
            source="trellis/profiles",
        )
    ended = await eventually(
        lambda: world.sessions.get(pair.url, headers=pair.admin),
        until=lambda r: r.json()["status"] == "ended",
    )
    mentee = next(x for x in ended.json()["participants"] if x["side"] == "mentee")
    assert mentee["full_name"] == "Erased person"
    assert ended.json()["end_reason"]
    evaluations = await eventually(
        lambda: world.sessions.get(f"{other.url}/evaluations", headers=other.admin),
        until=lambda r: r.json()[0]["comments"] is None,
    )
    assert evaluations.json()[0]["rating"] == 5  # the numbers stay for the program's report
    # A completed mentorship stays completed.
    assert (await world.sessions.get(other.url, headers=other.admin)).json()[
        "status"
    ] == "completed"


async def test_ending_a_mentorship_cancels_the_meetings_still_ahead(world):
    pair = await world.pair()
    start = (datetime.now(UTC) + timedelta(days=20)).replace(tzinfo=None, microsecond=0)
    scheduled = await world.sessions.post(
        f"{pair.url}/meetings",
        json={"start": start.isoformat(), "time_zone": "UTC", "duration_minutes": 30},
        headers=pair.mentor,
    )
    assert scheduled.status_code == 201, scheduled.text
    meeting_id = scheduled.json()["id"]

    ended = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "Moved abroad"}, headers=pair.mentee
    )
    assert ended.status_code == 200

    meeting = await world.sessions.get(f"/sessions/meetings/{meeting_id}", headers=pair.mentor)
    assert meeting.json()["status"] == "cancelled"
    events = await eventually(
        lambda: world.events(s.MeetingCancelled, meeting_id),
        until=lambda e: any(x.type.endswith("cancelled.v1") for x in e),
    )
    [cancelled] = [e for e in events if e.type.endswith("cancelled.v1")]
    assert cancelled.data.cancelled_by == "system"
