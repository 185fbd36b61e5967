"""The pulse: check-ins whose words stay with their author, and feedback shown only to whom its
author chose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_infra.pytest_plugin import eventually
from trellis_sessions.pulse.erasure import erase_person
from trellis_shared.contracts import sessions as s


async def check_in(world, pair, headers, **body):
    response = await world.sessions.post(f"{pair.url}/checkins", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def give(world, pair, headers, **body):
    response = await world.sessions.post(f"{pair.url}/feedback", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def meeting(world, pair, *, status: str) -> uuid.UUID:
    """A meeting of the pair as the meetings area stores it: written directly, because a meeting
    two days ago (one feedback can be about) cannot be scheduled through the API."""
    async with world.engine.begin() as conn:
        meeting_id = uuid.uuid4()
        starts_at = datetime.now(UTC) - timedelta(days=2)
        await conn.execute(
            sa.text(
                "INSERT INTO meeting (id, organization_id, mentorship_id, starts_at, ends_at,"
                " time_zone, duration_minutes, mode, status, completed_at, attended, sequence,"
                " created_by, created_at, version) VALUES (:id, :org, :m, :start, :end,"
                " 'America/New_York', 45, 'video', :status, :done, '[]', 0, :by, now(), 1)"
            ),
            {
                "id": meeting_id,
                "org": pair.org,
                "m": uuid.UUID(pair.id),
                "start": starts_at,
                "end": starts_at + timedelta(minutes=45),
                "status": status,
                "done": starts_at + timedelta(minutes=45) if status == "completed" else None,
                "by": pair.mentor_id,
            },
        )
    return meeting_id


async def test_a_participant_reads_the_other_sides_rating_and_date_only(world):
    pair = await world.pair()
    mine = await check_in(
        world, pair, pair.mentee, rating=2, blockers="No time this month", note="Busy at work"
    )
    assert (mine["side"], mine["rating"], mine["blockers"]) == ("mentee", 2, "No time this month")
    await check_in(world, pair, pair.mentor, rating=4, note="Good momentum")

    as_mentee = (await world.sessions.get(f"{pair.url}/checkins", headers=pair.mentee)).json()
    shown = {c["side"]: c for c in as_mentee["data"]}
    assert (shown["mentee"]["blockers"], shown["mentee"]["note"]) == (
        "No time this month",
        "Busy at work",
    )
    assert shown["mentee"]["withheld"] is False
    theirs = shown["mentor"]
    assert (theirs["rating"], theirs["note"], theirs["blockers"], theirs["withheld"]) == (
        4,
        None,
        None,
        True,
    )
    assert theirs["created_at"]
    as_mentor = (await world.sessions.get(f"{pair.url}/checkins", headers=pair.mentor)).json()
    assert {c["side"]: c["note"] for c in as_mentor["data"]} == {
        "mentor": "Good momentum",
        "mentee": None,
    }
    as_admin = (await world.sessions.get(f"{pair.url}/checkins", headers=pair.admin)).json()
    assert [c["side"] for c in as_admin["data"]] == ["mentor", "mentee"]  # newest first
    assert as_admin["data"][1]["blockers"] == "No time this month"
    for headers in (pair.stranger, pair.other_org_admin):
        assert (
            await world.sessions.get(f"{pair.url}/checkins", headers=headers)
        ).status_code == 404

    page = await world.sessions.get(f"{pair.url}/checkins", params={"limit": 1}, headers=pair.admin)
    assert len(page.json()["data"]) == 1 and page.json()["next_cursor"]
    rest = await world.sessions.get(
        f"{pair.url}/checkins",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=pair.admin,
    )
    assert [c["side"] for c in rest.json()["data"]] == ["mentee"]

    [event] = await eventually(lambda: world.events(s.CheckinSubmitted, mine["id"]))
    assert event.type == "trellis.sessions.checkin.submitted.v1"
    assert (event.data.author_id, event.data.side, event.data.rating) == (
        pair.mentee_id,
        "mentee",
        2,
    )
    assert event.data.has_blockers is True
    assert event.data.mentorship_id == uuid.UUID(pair.id)
    assert not {"blockers", "note"} & set(event.data.model_dump())


async def test_check_ins_need_a_participant_and_an_active_mentorship(world):
    pair = await world.pair()
    by_admin = await world.sessions.post(
        f"{pair.url}/checkins", json={"rating": 3}, headers=pair.admin
    )
    assert by_admin.status_code == 403
    by_stranger = await world.sessions.post(
        f"{pair.url}/checkins", json={"rating": 3}, headers=pair.stranger
    )
    assert by_stranger.status_code == 404
    for body, field in (
        ({"rating": 0}, "body.rating"),
        ({"rating": 6}, "body.rating"),
        ({}, "body.rating"),
        ({"rating": 3, "blockers": "x" * 2001}, "body.blockers"),
        ({"rating": 3, "note": "x" * 2001}, "body.note"),
        ({"rating": 3, "mood": "meh"}, "body.mood"),
    ):
        response = await world.sessions.post(f"{pair.url}/checkins", json=body, headers=pair.mentor)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}

    quiet = await check_in(world, pair, pair.mentor, rating=3, blockers="   ")
    assert quiet["blockers"] is None
    [event] = await eventually(lambda: world.events(s.CheckinSubmitted, quiet["id"]))
    assert event.data.has_blockers is False

    paused = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "Exams"}, headers=pair.mentee
    )
    assert paused.status_code == 200
    late = await world.sessions.post(
        f"{pair.url}/checkins", json={"rating": 3}, headers=pair.mentee
    )
    assert late.status_code == 409 and "paused" in late.json()["detail"]


async def test_feedback_is_shown_to_whom_its_author_chose(world):
    pair = await world.pair()
    written = {}
    for who, headers in (("mentor", pair.mentor), ("mentee", pair.mentee)):
        for visibility in ("shared", "private", "program_admin"):
            feedback = await give(
                world,
                pair,
                headers,
                rating=4,
                comments=f"{who} {visibility}",
                visibility=visibility,
            )
            assert (feedback["side"], feedback["visibility"]) == (who, visibility)
            written[feedback["id"]] = f"{who} {visibility}"

    async def seen_by(headers) -> set[str]:
        response = await world.sessions.get(f"{pair.url}/feedback", headers=headers)
        assert response.status_code == 200, response.text
        return {f["comments"] for f in response.json()["data"]}

    everything = {"shared", "private", "program_admin"}
    assert await seen_by(pair.mentor) == {f"mentor {v}" for v in everything} | {"mentee shared"}
    assert await seen_by(pair.mentee) == {f"mentee {v}" for v in everything} | {"mentor shared"}
    assert await seen_by(pair.admin) == {
        f"{who} {v}" for who in ("mentor", "mentee") for v in ("shared", "program_admin")
    }
    for headers in (pair.stranger, pair.other_org_admin):
        assert (
            await world.sessions.get(f"{pair.url}/feedback", headers=headers)
        ).status_code == 404
    assert (
        await world.sessions.post(
            f"{pair.url}/feedback", json={"rating": 5, "visibility": "shared"}, headers=pair.admin
        )
    ).status_code == 403

    some_id = next(i for i, text in written.items() if text == "mentee private")
    [event] = await eventually(lambda: world.events(s.FeedbackSubmitted, some_id))
    assert event.type == "trellis.sessions.feedback.submitted.v1"
    assert (event.data.author_id, event.data.side) == (pair.mentee_id, "mentee")
    assert (event.data.visibility, event.data.rating, event.data.meeting_id) == ("private", 4, None)
    assert "comments" not in event.data.model_dump()


async def test_feedback_on_a_meeting_comes_once_per_author_after_it(world):
    pair = await world.pair()
    held = await meeting(world, pair, status="completed")
    ahead = await meeting(world, pair, status="scheduled")
    elsewhere = await meeting(world, await world.pair(), status="completed")

    first = await give(
        world, pair, pair.mentee, meeting_id=str(held), rating=5, visibility="shared"
    )
    assert first["meeting_id"] == str(held)
    twice = await world.sessions.post(
        f"{pair.url}/feedback",
        json={"meeting_id": str(held), "rating": 3, "visibility": "private"},
        headers=pair.mentee,
    )
    assert twice.status_code == 409
    await give(world, pair, pair.mentor, meeting_id=str(held), rating=4, visibility="program_admin")
    for _ in range(2):  # on the mentorship as a whole: as often as one likes
        await give(world, pair, pair.mentee, rating=4, visibility="shared")

    early = await world.sessions.post(
        f"{pair.url}/feedback",
        json={"meeting_id": str(ahead), "rating": 3, "visibility": "shared"},
        headers=pair.mentor,
    )
    assert early.status_code == 409 and "scheduled" in early.json()["detail"]
    for other in (elsewhere, uuid.uuid4()):
        wrong = await world.sessions.post(
            f"{pair.url}/feedback",
            json={"meeting_id": str(other), "rating": 3, "visibility": "shared"},
            headers=pair.mentor,
        )
        assert wrong.status_code == 422
        assert "body.meeting_id" in {e["field"] for e in wrong.json()["errors"]}

    on_meeting = await world.sessions.get(
        f"{pair.url}/feedback", params={"meeting": str(held)}, headers=pair.admin
    )
    assert sorted(f["side"] for f in on_meeting.json()["data"]) == ["mentee", "mentor"]
    [event] = await eventually(lambda: world.events(s.FeedbackSubmitted, first["id"]))
    assert event.data.meeting_id == held


async def test_bad_feedback_names_the_field(world):
    pair = await world.pair()
    for body, field in (
        ({"rating": 0, "visibility": "shared"}, "body.rating"),
        ({"rating": 6, "visibility": "shared"}, "body.rating"),
        ({"rating": 3, "visibility": "public"}, "body.visibility"),
        ({"rating": 3}, "body.visibility"),
        ({"rating": 3, "visibility": "shared", "comments": "x" * 4001}, "body.comments"),
        ({"rating": 3, "visibility": "shared", "meeting_id": "last week"}, "body.meeting_id"),
    ):
        response = await world.sessions.post(f"{pair.url}/feedback", json=body, headers=pair.mentor)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}


async def test_erasure_blanks_check_in_and_feedback_words_and_keeps_the_ratings(world):
    pair = await world.pair()
    await check_in(world, pair, pair.mentee, rating=2, blockers="My manager", note="Stressed")
    await give(world, pair, pair.mentee, rating=3, comments="Too theoretical", visibility="shared")
    await give(world, pair, pair.mentor, rating=5, comments="Great questions", visibility="shared")

    async with AsyncSession(world.engine) as session, session.begin():
        await erase_person(session, pair.org, pair.mentee_id)
    [checkin] = (await world.sessions.get(f"{pair.url}/checkins", headers=pair.admin)).json()[
        "data"
    ]
    assert (checkin["rating"], checkin["blockers"], checkin["note"]) == (2, None, None)
    feedback = (await world.sessions.get(f"{pair.url}/feedback", headers=pair.admin)).json()["data"]
    assert {(f["side"], f["rating"], f["comments"]) for f in feedback} == {
        ("mentee", 3, None),
        ("mentor", 5, "Great questions"),
    }
