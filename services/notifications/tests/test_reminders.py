"""Reminders before meetings: planned from sessions' events, moved and dropped with the meeting,
sent once (even by two workers at once), late rather than never after an outage, and gone with
the person. The worker is driven with `run_once(now=...)` where the clock matters; one test lets
the app's own background worker fire a reminder due seconds from now."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from trellis_infra.pytest_plugin import eventually, settings_for
from trellis_notifications.dispatch import local_time
from trellis_notifications.reminders import run_once
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s
from trellis_shared.db import create_engine, create_sessionmaker

SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
async def workers(stack) -> AsyncIterator[list]:
    """Two sessionmakers on two engines: two replicas' worth of the reminders worker."""
    settings = settings_for(stack, "notifications", NotificationsSettings)
    engines = [create_engine(settings) for _ in range(2)]
    try:
        yield [create_sessionmaker(e, settings) for e in engines]
    finally:
        for engine in engines:
            await engine.dispose()


async def _pair(world, leads: list[int] | None = None):
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor", time_zone="America/New_York")
    mentee = await world.person(org, name="Theo Mentee", time_zone="Europe/London")
    if leads is not None:
        for person in (mentor, mentee):
            put = await world.http.put(
                "/notifications/preferences",
                json={"reminder_lead_minutes": leads},
                headers=world.member(org, person),
            )
            assert put.status_code == 200, put.text
    return org, mentor, mentee


def _fields(mentor, mentee, meeting_id, starts_at, sequence=0, mentorship_id=None):
    return {
        "mentorship_id": mentorship_id or uuid.uuid4(),
        "program_id": uuid.uuid4(),
        "mentor_id": mentor,
        "mentee_id": mentee,
        "meeting_id": meeting_id,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=45),
        "time_zone": "America/New_York",
        "mode": "video",
        "location": "https://meet.example.org/abc",
        "sequence": sequence,
    }


async def _schedule(world, org, mentor, mentee, starts_at, *, expect: int) -> uuid.UUID:
    meeting = uuid.uuid4()
    await world.publish(
        s.MeetingScheduled(
            **_fields(mentor, mentee, meeting, starts_at),
            scheduled_by="mentor",
            scheduled_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    await eventually(lambda: _reminders(world, meeting), until=lambda rows: len(rows) == expect)
    return meeting


async def _reminders(world, meeting_id) -> list[dict]:
    rows = await world.rows(
        "SELECT * FROM reminder WHERE meeting_id = :m ORDER BY person_id, lead_minutes",
        m=meeting_id,
    )
    return [dict(r) for r in rows]


async def _reminded(world, org, person) -> list[dict]:
    inbox = await world.inbox(org, person, limit=100)
    return [i for i in inbox["data"] if i["kind"] == "meeting_reminder"]


async def _rows_after(world, kind: str, org, person, n: int) -> None:
    """Wait until the person's inbox holds `n` items of `kind`: the event has been applied."""
    await eventually(
        lambda: world.inbox(org, person, limit=100),
        until=lambda i: sum(x["kind"] == kind for x in i["data"]) >= n,
    )


async def test_a_reminder_fires_at_its_time_and_not_before(world, workers):
    org, mentor, mentee = await _pair(world, leads=[5])
    starts = datetime.now(UTC) + timedelta(minutes=5, seconds=10)
    meeting = await _schedule(world, org, mentor, mentee, starts, expect=2)
    rows = await _reminders(world, meeting)
    assert {r["status"] for r in rows} == {"scheduled"}
    due = rows[0]["due_at"]
    assert due == starts - timedelta(minutes=5)

    await run_once(workers[0], now=due - SECOND)
    assert {r["status"] for r in await _reminders(world, meeting)} == {"scheduled"}
    assert await _reminded(world, org, mentee) == []

    # The app's own worker sends it once due.
    rows = await eventually(
        lambda: _reminders(world, meeting), until=lambda rs: {r["status"] for r in rs} == {"sent"}
    )
    assert all(r["sent_at"] >= r["due_at"] for r in rows)
    [theirs] = await _reminded(world, org, mentee)
    assert theirs["title"].startswith("Reminder: meeting with Maya Mentor in ")
    assert local_time(starts, "Europe/London") in theirs["body"]
    assert "late" not in theirs["body"]
    assert theirs["category"] == "reminders"
    assert theirs["link"] == f"/sessions/meetings/{meeting}"
    [mine] = await _reminded(world, org, mentor)
    assert local_time(starts, "America/New_York") in mine["body"]
    emails = [e for e in await world.emails(mentee) if e["template"] == "meeting_reminder"]
    assert [(e["status"], e["delayed_for"]) for e in emails] == [("queued", None)]


async def test_a_moved_meeting_moves_its_reminders(world, workers):
    org, mentor, mentee = await _pair(world)
    now = datetime.now(UTC)
    old, new = now + timedelta(days=3), now + timedelta(days=5)
    meeting = await _schedule(world, org, mentor, mentee, old, expect=4)
    fields = _fields(mentor, mentee, meeting, new, sequence=1)
    await world.publish(
        s.MeetingRescheduled(
            **fields, previous_starts_at=old, rescheduled_by="mentee", rescheduled_at=now
        ),
        org=org,
        source="trellis/sessions",
    )
    rows = await eventually(
        lambda: _reminders(world, meeting), until=lambda rs: all(r["sequence"] == 1 for r in rs)
    )
    assert {(r["lead_minutes"], r["due_at"]) for r in rows} == {
        (1440, new - timedelta(days=1)),
        (60, new - timedelta(hours=1)),
    }
    assert {r["status"] for r in rows} == {"scheduled"}

    await run_once(workers[0], now=old + SECOND)  # the old time: nothing is due any more
    assert await _reminded(world, org, mentee) == []
    await run_once(workers[0], now=new - timedelta(days=1) + SECOND)
    [day_before] = await _reminded(world, org, mentee)
    assert day_before["title"] == "Reminder: meeting with Maya Mentor in 24 hours"

    # Moved again after the day-before reminder went out: it is sent again for the new time.
    newer = now + timedelta(days=7)
    await world.publish(
        s.MeetingRescheduled(
            **_fields(mentor, mentee, meeting, newer, sequence=2),
            previous_starts_at=new,
            rescheduled_by="mentor",
            rescheduled_at=now,
        ),
        org=org,
        source="trellis/sessions",
    )
    rows = await eventually(
        lambda: _reminders(world, meeting), until=lambda rs: all(r["sequence"] == 2 for r in rs)
    )
    assert {r["status"] for r in rows} == {"scheduled"}
    # A stale copy of the first move (a lower sequence) changes nothing.
    await world.publish(
        s.MeetingRescheduled(
            **fields, previous_starts_at=old, rescheduled_by="mentee", rescheduled_at=now
        ),
        org=org,
        source="trellis/sessions",
    )
    await _rows_after(world, "meeting_rescheduled", org, mentee, 3)
    assert await _reminders(world, meeting) == rows
    await run_once(workers[0], now=newer - timedelta(hours=1) + SECOND)
    reminded = await _reminded(world, org, mentee)
    assert [r["title"] for r in reminded] == [
        "Reminder: meeting with Maya Mentor in 1 hour",
        "Reminder: meeting with Maya Mentor in 24 hours",
    ]
    assert local_time(newer, "Europe/London") in reminded[0]["body"]
    rows = await _reminders(world, meeting)
    assert sorted((r["lead_minutes"], r["status"]) for r in rows) == [
        (60, "sent"),
        (60, "sent"),
        (1440, "skipped"),  # the day-before one for the newest time: superseded by the hour
        (1440, "skipped"),
    ]
    assert all("superseded" in r["reason"] for r in rows if r["status"] == "skipped")


async def test_a_cancelled_meeting_drops_its_reminders_for_good(world, workers):
    org, mentor, mentee = await _pair(world)
    starts = datetime.now(UTC) + timedelta(days=3)
    meeting = await _schedule(world, org, mentor, mentee, starts, expect=4)
    fields = _fields(mentor, mentee, meeting, starts, sequence=1)
    cancelled_at = datetime.now(UTC)
    await world.publish(
        s.MeetingCancelled(
            **fields, reason="ill", cancelled_by="mentee", cancelled_at=cancelled_at
        ),
        org=org,
        source="trellis/sessions",
    )
    rows = await eventually(
        lambda: _reminders(world, meeting),
        until=lambda rs: {r["status"] for r in rs} == {"cancelled"},
    )
    assert {r["reason"] for r in rows} == {"the meeting was cancelled"}
    # A late copy of the scheduling (sequence 0) does not bring them back.
    await world.publish(
        s.MeetingScheduled(
            **_fields(mentor, mentee, meeting, starts), scheduled_by="mentor", scheduled_at=starts
        ),
        org=org,
        source="trellis/sessions",
    )
    await _rows_after(world, "meeting_scheduled", org, mentee, 2)
    assert {r["status"] for r in await _reminders(world, meeting)} == {"cancelled"}
    await run_once(workers[0], now=starts - timedelta(minutes=59))
    assert await _reminded(world, org, mentee) == []
    assert await _reminded(world, org, mentor) == []


async def test_after_an_outage_a_reminder_goes_out_late_and_says_so(world, workers):
    org, mentor, mentee = await _pair(world)
    starts = datetime.now(UTC) + timedelta(days=3)
    meeting = await _schedule(world, org, mentor, mentee, starts, expect=4)
    # The worker was down for both due times; it comes back 10 minutes after the hour-before one.
    await run_once(workers[0], now=starts - timedelta(minutes=50))
    [late] = await _reminded(world, org, mentee)
    assert late["title"] == "Late reminder: meeting with Maya Mentor in 50 minutes"
    assert "This reminder is late: it should have reached you 10 minutes earlier" in late["body"]
    rows = {(r["person_id"], r["lead_minutes"]): r for r in await _reminders(world, meeting)}
    assert rows[(mentee, 60)]["status"] == "sent"
    assert rows[(mentee, 60)]["late_by"] == timedelta(minutes=10)
    assert rows[(mentee, 1440)]["status"] == "skipped"
    [email] = [e for e in await world.emails(mentee) if e["template"] == "meeting_reminder"]
    assert email["context"]["late_by_minutes"] == 10

    # A reminder only reached once the meeting has begun is not sent at all.
    other = await _schedule(world, org, mentor, mentee, starts + timedelta(hours=2), expect=4)
    await run_once(workers[0], now=starts + timedelta(hours=2, minutes=1))
    rows = await _reminders(world, other)
    assert {r["status"] for r in rows} == {"skipped"}
    assert any("already started" in r["reason"] for r in rows)
    assert len(await _reminded(world, org, mentee)) == 1


async def test_two_workers_at_once_send_each_reminder_once(world, workers):
    org, mentor, mentee = await _pair(world, leads=[60])
    starts = datetime.now(UTC) + timedelta(days=3)
    meetings = [
        await _schedule(world, org, mentor, mentee, starts + timedelta(minutes=i), expect=2)
        for i in range(12)
    ]
    at = starts - timedelta(minutes=48)  # every one is due, none has begun
    tallies = await asyncio.gather(
        run_once(workers[0], now=at, batch_size=5), run_once(workers[1], now=at, batch_size=5)
    )
    # Rows sent in this pass carry its clock; had both workers sent one, the tallies would say so.
    [row] = await world.rows("SELECT count(*) AS n FROM reminder WHERE sent_at = :at", at=at)
    sent = row["n"]
    assert sum(t.sent for t in tallies) == sent >= 24
    for meeting in meetings:
        assert [r["status"] for r in await _reminders(world, meeting)] == ["sent", "sent"]
    for person in (mentor, mentee):
        assert len(await _reminded(world, org, person)) == 12
        emails = [e for e in await world.emails(person) if e["template"] == "meeting_reminder"]
        assert len(emails) == 12


async def test_an_erased_person_loses_their_reminders(world):
    org, mentor, mentee = await _pair(world)
    starts = datetime.now(UTC) + timedelta(days=3)
    meeting = await _schedule(world, org, mentor, mentee, starts, expect=4)
    await world.publish(
        p.PersonErased(person_id=mentee, erased_at=datetime.now(UTC)),
        org=org,
        source="trellis/profiles",
    )
    rows = await eventually(lambda: _reminders(world, meeting), until=lambda rs: len(rs) == 2)
    assert {r["person_id"] for r in rows} == {mentor}
