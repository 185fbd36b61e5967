"""Meetings through HTTP: planned in a zone's wall time and shown in each participant's own,
never double-booking anyone (even under concurrent requests), moved, cancelled and completed
with events, private notes kept private."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_infra.pytest_plugin import eventually
from trellis_sessions.meetings.erasure import erase_person
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s


def later(days: int, hour: int = 10, minute: int = 0) -> str:
    """A wall time `days` from today (hours of the day no DST change touches)."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00"


def dst_monday() -> date:
    """A Monday 13 days before the US springs forward (second Sunday of March), ahead of today:
    1 March 2027 from where this was written. Four weekly 09:00s from it straddle the change in
    New York but not London's (last Sunday of March)."""
    today = datetime.now(UTC).date()
    for year in (today.year, today.year + 1):
        march = date(year, 3, 1)
        second_sunday = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
        monday = second_sunday - timedelta(days=13)
        if monday > today + timedelta(days=1):
            return monday
    raise AssertionError("unreachable: next year's March is always ahead")


def errors_of(response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


async def sharing_mentor(world, pair, *, mentee_zone: str = "Asia/Tokyo"):
    """A second mentorship of the same mentor, with a new mentee."""
    mentee = await world.person(pair.org, name="Ada Mentee", time_zone=mentee_zone)
    accepted = await world.accept(pair.org, pair.program_id, pair.mentor_id, mentee)
    other = dataclasses.replace(
        pair, match_id=accepted.data.match_id, mentee_id=mentee, mentorship={}
    )
    other.mentorship = await world.mentorship_of(other)
    return other


async def schedule(world, pair, headers=None, **body):
    body = {"start": later(30), "time_zone": "UTC"} | body
    return await world.sessions.post(
        f"{pair.url}/meetings", json=body, headers=headers or pair.mentor
    )


async def backdate(world, meeting_id: str) -> None:
    """Move a meeting into the past: it took place an hour ago (the API refuses past starts)."""
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE meeting SET starts_at = now() - interval '2 hours',"
                " ends_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": meeting_id},
        )


async def test_a_weekly_nine_oclock_in_new_york_stays_there_across_dst(world):
    pair = await world.pair(mentor_zone="America/New_York", mentee_zone="Europe/London")
    monday = dst_monday()
    # No time_zone: the meeting is planned in the caller's own zone (the mentor's New York).
    response = await schedule(
        world,
        pair,
        start=f"{monday.isoformat()}T09:00:00",
        time_zone=None,
        recurrence="FREQ=WEEKLY;COUNT=4",
        agenda="Quarterly goals",
    )
    assert response.status_code == 201, response.text
    series = response.json()
    assert (series["time_zone"], series["rrule"]) == ("America/New_York", "FREQ=WEEKLY;COUNT=4")
    meetings = series["occurrences"]
    assert [m["occurrence"] for m in meetings] == [1, 2, 3, 4]
    assert {m["series_id"] for m in meetings} == {series["series_id"]}
    assert [m["starts_at"][11:16] for m in meetings] == ["14:00", "14:00", "13:00", "13:00"]
    assert all(m["starts_at"].endswith("Z") for m in meetings)
    assert {m["duration_minutes"] for m in meetings} == {45}  # the mentorship's default length
    mentor_times = [m["local_times"][0] for m in meetings]
    mentee_times = [m["local_times"][1] for m in meetings]
    assert {(t["side"], t["time_zone"]) for t in mentor_times} == {("mentor", "America/New_York")}
    assert [t["start"][11:] for t in mentor_times] == ["09:00:00-05:00"] * 2 + [
        "09:00:00-04:00"
    ] * 2
    assert {(t["side"], t["time_zone"]) for t in mentee_times} == {("mentee", "Europe/London")}
    assert [t["start"][11:16] for t in mentee_times] == ["14:00", "14:00", "13:00", "13:00"]
    assert [t["end"][11:16] for t in mentee_times] == ["14:45", "14:45", "13:45", "13:45"]

    [row] = await world.rows(
        "SELECT rrule, time_zone, local_start, duration_minutes FROM meeting_series WHERE id = :id",
        id=uuid.UUID(series["series_id"]),
    )
    assert row["local_start"] == datetime.combine(monday, time(9))
    assert (row["time_zone"], row["duration_minutes"]) == ("America/New_York", 45)
    listed = await world.sessions.get(f"{pair.url}/meetings", headers=pair.mentee)
    assert [m["id"] for m in listed.json()["data"]] == [m["id"] for m in meetings]

    [scheduled] = await eventually(lambda: world.events(s.MeetingScheduled, meetings[2]["id"]))
    assert scheduled.type == "trellis.sessions.meeting.scheduled.v1"
    assert (scheduled.data.mentorship_id, scheduled.data.mentee_id) == (
        uuid.UUID(pair.id),
        pair.mentee_id,
    )
    assert scheduled.data.series_id == uuid.UUID(series["series_id"])
    assert scheduled.data.starts_at.isoformat()[11:16] == "13:00"
    assert (scheduled.data.time_zone, scheduled.data.scheduled_by) == (
        "America/New_York",
        "mentor",
    )


async def test_one_meeting_with_an_offset_defaults_and_a_list_window(world):
    pair = await world.pair(meeting_minutes=30)
    response = await schedule(
        world,
        pair,
        headers=pair.admin,
        start=f"{later(20)[:10]}T15:00:00+01:00",
        time_zone="America/New_York",
        mode="in_person",
        location="Library, room 2",
    )
    assert response.status_code == 201, response.text
    meeting = response.json()
    assert response.headers["location"] == f"/sessions/meetings/{meeting['id']}"
    assert meeting["local_start"][11:16] in ("09:00", "10:00")  # 14:00 UTC in New York
    assert meeting["starts_at"][11:16] == "14:00"
    assert (meeting["duration_minutes"], meeting["series_id"]) == (30, None)
    assert (meeting["mode"], meeting["location"], meeting["status"]) == (
        "in_person",
        "Library, room 2",
        "scheduled",
    )
    # An admin has no zone of their own in the directory: the zone must be given.
    no_zone = await schedule(world, pair, headers=pair.admin, time_zone=None)
    assert no_zone.status_code == 422 and "body.time_zone" in errors_of(no_zone)

    other = (await schedule(world, pair, start=later(40))).json()
    window = {"from": f"{later(35)}Z", "to": f"{later(45)}Z"}
    found = await world.sessions.get(f"{pair.url}/meetings", params=window, headers=pair.mentee)
    assert [m["id"] for m in found.json()["data"]] == [other["id"]]
    naive = {"from": later(35), "to": later(45)}  # read as UTC
    found = await world.sessions.get(f"{pair.url}/meetings", params=naive, headers=pair.mentee)
    assert [m["id"] for m in found.json()["data"]] == [other["id"]]
    bad = await world.sessions.get(f"{pair.url}/meetings?from=soon", headers=pair.mentee)
    assert bad.status_code == 422 and "query.from" in errors_of(bad)
    paged = await world.sessions.get(f"{pair.url}/meetings?limit=1", headers=pair.mentee)
    assert [m["id"] for m in paged.json()["data"]] == [meeting["id"]]
    rest = await world.sessions.get(
        f"{pair.url}/meetings",
        params={"limit": 1, "cursor": paged.json()["next_cursor"]},
        headers=pair.mentee,
    )
    assert [m["id"] for m in rest.json()["data"]] == [other["id"]]
    assert rest.json()["next_cursor"] is None


async def test_every_bad_input_is_a_422_naming_its_field(world):
    pair = await world.pair()
    yesterday = later(-1)
    cases = [
        ({"start": yesterday}, "body.start", "future"),
        ({"duration_minutes": 0}, "body.duration_minutes", None),
        ({"duration_minutes": -30}, "body.duration_minutes", None),
        ({"duration_minutes": 481}, "body.duration_minutes", None),
        ({"time_zone": "Mars/Olympus"}, "body.time_zone", "unknown time zone"),
        ({"start": "2027-03-14T02:30:00", "time_zone": "America/New_York"}, "body.start", "exist"),
        ({"recurrence": "FREQ=SOMETIMES;COUNT=3"}, "body.recurrence", "FREQ"),
        ({"recurrence": "FREQ=WEEKLY;BYDAY=XX;COUNT=3"}, "body.recurrence", "invalid RRULE"),
        ({"recurrence": "FREQ=WEEKLY"}, "body.recurrence", "COUNT or UNTIL"),
        ({"recurrence": "FREQ=DAILY;COUNT=53"}, "body.recurrence", "at most 52"),
        ({"recurrence": "FREQ=MONTHLY;UNTIL=20991231"}, "body.recurrence", "a year ahead"),
        ({"mode": "carrier_pigeon"}, "body.mode", None),
        ({"location": "x" * 501}, "body.location", None),
        ({"agenda": "x" * 4001}, "body.agenda", None),
        ({"start": "next tuesday"}, "body.start", None),
        ({"attendees": []}, "body.attendees", None),
    ]
    for body, field, words in cases:
        response = await schedule(world, pair, **body)
        assert response.status_code == 422, (body, response.text)
        assert field in errors_of(response), (body, response.json())
        if words:
            assert words in response.json()["detail"], (body, response.json())
    assert await world.rows("SELECT id FROM meeting WHERE mentorship_id = :m", m=pair.id) == []

    meeting = (await schedule(world, pair)).json()
    url = f"/sessions/meetings/{meeting['id']}"
    for path, body, field in (
        ("reschedule", {"start": yesterday}, "body.start"),
        ("reschedule", {"start": later(9), "duration_minutes": 600}, "body.duration_minutes"),
        ("reschedule", {"start": later(9), "time_zone": "Nowhere"}, "body.time_zone"),
        ("cancel", {"reason": "x" * 501}, "body.reason"),
        ("cancel", {"scope": "all"}, "body.scope"),
        ("complete", {"shared_notes": "x" * 10001}, "body.shared_notes"),
        ("complete", {"attended": [str(uuid.uuid4())]}, "body.attended"),
    ):
        response = await world.sessions.post(f"{url}/{path}", json=body, headers=pair.mentor)
        assert response.status_code == 422, (path, body, response.text)
        assert field in errors_of(response), (path, response.json())


async def test_a_meeting_overlapping_either_participants_other_meetings_is_refused(world):
    pair = await world.pair()
    other = await sharing_mentor(world, pair)
    first = (await schedule(world, pair, start=f"{later(10)[:10]}T10:00:00")).json()

    clash = await schedule(world, other, start=f"{later(10)[:10]}T10:30:00", duration_minutes=60)
    assert clash.status_code == 409, clash.text
    assert clash.json()["conflicts"] == [first["id"]]
    assert first["id"] in clash.json()["detail"]
    # A series is refused whole when any one occurrence clashes.
    series = await schedule(
        world,
        other,
        start=f"{later(3)[:10]}T10:15:00",
        recurrence="FREQ=DAILY;COUNT=10",
        headers=other.mentee,
    )
    assert series.status_code == 409 and series.json()["conflicts"] == [first["id"]]
    # Back to back is fine; so is the same slot once the first is cancelled.
    after = await schedule(world, other, start=f"{later(10)[:10]}T10:45:00")
    assert after.status_code == 201, after.text
    moved = await world.sessions.post(
        f"/sessions/meetings/{after.json()['id']}/reschedule",
        json={"start": f"{later(10)[:10]}T10:30:00"},
        headers=other.mentor,
    )
    assert moved.status_code == 409 and moved.json()["conflicts"] == [first["id"]]
    # Moving a meeting onto part of its own old slot is no conflict with itself.
    nudged = await world.sessions.post(
        f"/sessions/meetings/{after.json()['id']}/reschedule",
        json={"start": f"{later(10)[:10]}T11:00:00"},
        headers=other.mentor,
    )
    assert nudged.status_code == 200, nudged.text
    await world.sessions.post(f"/sessions/meetings/{first['id']}/cancel", headers=pair.mentee)
    again = await schedule(world, other, start=f"{later(10)[:10]}T10:00:00")
    assert again.status_code == 201, again.text


async def test_two_concurrent_requests_for_one_slot_cannot_both_win(world):
    pair = await world.pair()
    other = await sharing_mentor(world, pair)
    start = f"{later(12)[:10]}T16:00:00"

    responses = await asyncio.gather(
        schedule(world, pair, start=start, headers=pair.mentee),
        schedule(world, other, start=start, headers=other.mentee),
    )

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    [won] = [r.json() for r in responses if r.status_code == 201]
    [lost] = [r.json() for r in responses if r.status_code == 409]
    assert lost["conflicts"] == [won["id"]]
    rows = await world.rows(
        "SELECT m.id FROM meeting m JOIN mentorship s ON s.id = m.mentorship_id"
        " WHERE s.mentor_id = :mentor",
        mentor=pair.mentor_id,
    )
    assert [str(r["id"]) for r in rows] == [won["id"]]


async def test_state_conflicts_are_409(world):
    pair = await world.pair()
    meeting = (await schedule(world, pair)).json()
    url = f"/sessions/meetings/{meeting['id']}"

    early = await world.sessions.post(f"{url}/complete", json={}, headers=pair.mentor)
    assert early.status_code == 409 and "not started" in early.json()["detail"]
    await backdate(world, meeting["id"])
    done = await world.sessions.post(f"{url}/complete", json={}, headers=pair.mentor)
    assert done.status_code == 200, done.text
    for path, body in (("complete", {}), ("cancel", {}), ("reschedule", {"start": later(5)})):
        again = await world.sessions.post(f"{url}/{path}", json=body, headers=pair.mentee)
        assert again.status_code == 409, (path, again.text)
        assert "completed" in again.json()["detail"]

    cancelled = (await schedule(world, pair, start=later(31))).json()
    curl = f"/sessions/meetings/{cancelled['id']}"
    assert (await world.sessions.post(f"{curl}/cancel", headers=pair.mentor)).status_code == 200
    await backdate(world, cancelled["id"])
    late = await world.sessions.post(f"{curl}/complete", json={}, headers=pair.mentor)
    assert late.status_code == 409 and "cancelled" in late.json()["detail"]

    paused = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "Exams"}, headers=pair.mentee
    )
    assert paused.status_code == 200
    refused = await schedule(world, pair, start=later(33))
    assert refused.status_code == 409 and "paused" in refused.json()["detail"]
    await world.sessions.post(f"{pair.url}/resume", headers=pair.mentee)
    ended = await world.sessions.post(f"{pair.url}/end", json={"reason": "x"}, headers=pair.admin)
    assert ended.status_code == 200
    assert (await schedule(world, pair, start=later(34))).status_code == 409


async def test_scheduling_on_a_completed_mentorship_is_a_409_problem(world):
    pair = await world.pair()
    closing = {"rating": 4, "goals_met": "partly", "would_recommend": True}
    done = await world.sessions.post(f"{pair.url}/complete", json=closing, headers=pair.mentee)
    assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    refused = await schedule(world, pair, start=later(12))
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "completed" in refused.json()["detail"]
    listed = await world.sessions.get(f"{pair.url}/meetings", headers=pair.mentor)
    assert listed.json()["data"] == []


async def test_a_person_moving_zone_sees_their_meetings_in_the_new_one(world):
    pair = await world.pair(mentor_zone="America/New_York", mentee_zone="Europe/London")
    meeting = (await schedule(world, pair, start=later(20, hour=12), time_zone="UTC")).json()
    url = f"/sessions/meetings/{meeting['id']}"

    def mentee_time(shown):
        [mine] = [t for t in shown["local_times"] if t["person_id"] == str(pair.mentee_id)]
        return mine["time_zone"], mine["start"][11:16]

    assert mentee_time(meeting) in (("Europe/London", "12:00"), ("Europe/London", "13:00"))
    await world.publish(
        p.PersonUpdated(
            person_id=pair.mentee_id,
            full_name="Theo Mentee",
            email="theo@example.org",
            time_zone="Asia/Tokyo",
            locale="en",
            updated_at=datetime.now(UTC),
            version=2,
        ),
        org=pair.org,
        source="trellis/profiles",
    )
    moved = await eventually(
        lambda: world.sessions.get(url, headers=pair.mentee),
        until=lambda r: mentee_time(r.json())[0] == "Asia/Tokyo",
    )
    # Tokyo keeps no DST: 12:00 UTC is 21:00 there on any date.
    assert mentee_time(moved.json()) == ("Asia/Tokyo", "21:00")
    assert moved.json()["starts_at"] == meeting["starts_at"]
    # What the mentee schedules without naming a zone is now planned in Tokyo's wall time.
    planned = await schedule(world, pair, headers=pair.mentee, start=later(21), time_zone=None)
    assert planned.status_code == 201, planned.text
    assert planned.json()["time_zone"] == "Asia/Tokyo"
    assert planned.json()["starts_at"][11:16] == "01:00"  # 10:00 in Tokyo


async def test_non_participants_are_told_the_meeting_does_not_exist(world):
    pair = await world.pair()
    meeting = (await schedule(world, pair)).json()
    url = f"/sessions/meetings/{meeting['id']}"
    for headers in (pair.stranger, pair.other_org_admin):
        for method, path, body in (
            ("GET", url, None),
            ("GET", f"{url}.ics", None),
            ("GET", f"{pair.url}/meetings", None),
            ("POST", f"{pair.url}/meetings", {"start": later(50), "time_zone": "UTC"}),
            ("POST", f"{url}/reschedule", {"start": later(51)}),
            ("POST", f"{url}/cancel", {}),
            ("POST", f"{url}/complete", {}),
            ("PUT", f"{url}/private-note", {"body": "peek"}),
        ):
            response = await world.sessions.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, path, response.text)
            if path.startswith(url):
                assert pair.id not in response.text  # a meeting's id does not reveal its mentorship
    assert (await world.sessions.get(url)).status_code == 401
    assert (await world.sessions.get(url, headers=pair.admin)).status_code == 200


async def test_reschedule_and_cancel_bump_the_sequence_and_are_announced(world):
    pair = await world.pair()
    series = (
        await schedule(
            world, pair, start=later(7), recurrence="FREQ=WEEKLY;COUNT=4", time_zone="Asia/Tokyo"
        )
    ).json()
    first, second, third, fourth = series["occurrences"]
    url = f"/sessions/meetings/{first['id']}"

    stale = await world.sessions.post(
        f"{url}/reschedule", json={"start": later(8)}, headers={**pair.mentee, "If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    moved = await world.sessions.post(
        f"{url}/reschedule",
        json={"start": later(8, hour=11), "duration_minutes": 60},
        headers={**pair.mentee, "If-Match": 'W/"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == 'W/"2"'
    body = moved.json()
    assert (body["sequence"], body["version"], body["duration_minutes"]) == (1, 2, 60)
    assert (body["time_zone"], body["local_start"][11:16]) == ("Asia/Tokyo", "11:00")
    assert body["series_id"] == series["series_id"]  # still part of its series

    cancelled = await world.sessions.post(
        f"/sessions/meetings/{third['id']}/cancel",
        json={"reason": "Travelling", "scope": "following"},
        headers=pair.mentor,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert [m["id"] for m in cancelled.json()["data"]] == [third["id"], fourth["id"]]
    assert {(m["status"], m["cancel_reason"]) for m in cancelled.json()["data"]} == {
        ("cancelled", "Travelling")
    }
    only = await world.sessions.post(
        f"/sessions/meetings/{second['id']}/cancel", json={"scope": "this"}, headers=pair.mentor
    )
    assert [m["id"] for m in only.json()["data"]] == [second["id"]]
    statuses = await world.sessions.get(f"{pair.url}/meetings", headers=pair.mentee)
    assert [m["status"] for m in statuses.json()["data"]] == ["scheduled"] + ["cancelled"] * 3

    events = await eventually(
        lambda: world.events(s.MeetingRescheduled, first["id"]), until=lambda e: len(e) >= 2
    )
    assert [e.type.split(".")[3] for e in events] == ["scheduled", "rescheduled"]
    rescheduled = events[1].data
    assert (rescheduled.sequence, rescheduled.rescheduled_by) == (1, "mentee")
    assert rescheduled.previous_starts_at.isoformat() == first["starts_at"].replace("Z", "+00:00")
    assert rescheduled.starts_at.isoformat() == body["starts_at"].replace("Z", "+00:00")
    for meeting in (third, fourth):
        found = await eventually(
            lambda m=meeting: world.events(s.MeetingCancelled, m["id"]),
            until=lambda e: len(e) >= 2,
        )
        kinds = [e.type.split(".")[3] for e in found]
        assert kinds == ["scheduled", "cancelled"]
        assert (found[1].data.reason, found[1].data.cancelled_by) == ("Travelling", "mentor")
        assert found[1].data.sequence == 1


async def test_completion_records_attendance_and_private_notes_stay_private(world):
    pair = await world.pair()
    meeting = (await schedule(world, pair)).json()
    url = f"/sessions/meetings/{meeting['id']}"
    await backdate(world, meeting["id"])

    by_admin = await world.sessions.post(
        f"{url}/complete", json={"private_note": "admin thoughts"}, headers=pair.admin
    )
    assert by_admin.status_code == 403
    done = await world.sessions.post(
        f"{url}/complete",
        json={
            "attended": [str(pair.mentor_id), str(pair.mentee_id)],
            "shared_notes": "Agreed on a reading list",
            "private_note": "Mentee seems tired",
        },
        headers=pair.mentor,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["private_note"] == "Mentee seems tired"
    assert sorted(done.json()["attended"]) == sorted([str(pair.mentor_id), str(pair.mentee_id)])

    mine = await world.sessions.put(
        f"{url}/private-note", json={"body": "Ask about the internship"}, headers=pair.mentee
    )
    assert mine.status_code == 200 and mine.json()["body"] == "Ask about the internship"
    seen = {
        who: (await world.sessions.get(url, headers=headers)).json()
        for who, headers in (
            ("mentor", pair.mentor),
            ("mentee", pair.mentee),
            ("admin", pair.admin),
        )
    }
    assert seen["mentor"]["private_note"] == "Mentee seems tired"
    assert seen["mentee"]["private_note"] == "Ask about the internship"
    assert seen["admin"]["private_note"] is None
    assert {v["shared_notes"] for v in seen.values()} == {"Agreed on a reading list"}
    listed = await world.sessions.get(f"{pair.url}/meetings", headers=pair.mentee)
    assert listed.json()["data"][0]["private_note"] == "Ask about the internship"
    assert (
        await world.sessions.put(f"{url}/private-note", json={"body": "x"}, headers=pair.admin)
    ).status_code == 403

    [event] = [
        e
        for e in await eventually(
            lambda: world.events(s.MeetingCompleted, meeting["id"]), until=lambda e: len(e) >= 2
        )
        if e.type.endswith("completed.v1")
    ]
    assert set(event.data.attended) == {pair.mentor_id, pair.mentee_id}
    assert "tired" not in str(event.data.model_dump())  # notes never travel in events


async def test_erasing_a_person_blanks_what_they_wrote_in_meetings(world):
    pair = await world.pair()
    meeting = (await schedule(world, pair, agenda="My agenda", location="My flat")).json()
    url = f"/sessions/meetings/{meeting['id']}"
    await backdate(world, meeting["id"])
    await world.sessions.post(
        f"{url}/complete",
        json={"shared_notes": "Mentor's summary", "private_note": "mine"},
        headers=pair.mentor,
    )
    await world.sessions.put(f"{url}/private-note", json={"body": "theirs"}, headers=pair.mentee)
    await world.sessions.post("/sessions/calendar/feed", headers=pair.mentor)

    async with AsyncSession(world.engine) as session, session.begin():
        await erase_person(session, pair.org, pair.mentor_id)

    [row] = await world.rows(
        "SELECT agenda, location, shared_notes, status FROM meeting WHERE id = :id",
        id=meeting["id"],
    )
    assert (row["agenda"], row["location"], row["shared_notes"]) == (None, None, None)
    assert row["status"] == "completed"
    notes = await world.rows(
        "SELECT author_id, body FROM meeting_note WHERE meeting_id = :id", id=meeting["id"]
    )
    assert {(r["author_id"], r["body"]) for r in notes} == {
        (pair.mentor_id, None),
        (pair.mentee_id, "theirs"),
    }
    assert (
        await world.rows("SELECT 1 FROM calendar_feed WHERE person_id = :p", p=pair.mentor_id) == []
    )
