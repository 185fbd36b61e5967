"""Meetings as iCalendar: an invite that parses back with the `icalendar` library and that a
calendar app updates in place, and a person's secret feed URL read without a bearer token."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings import feed


def later(days: int, hour: int = 10) -> str:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00:00"


def parsed(response) -> icalendar.Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def people_of(event: icalendar.Event) -> tuple[tuple[str, str | None], list[dict[str, str]]]:
    """The event's organizer (address, name) and its attendees with their parameters."""
    organizer = event["ORGANIZER"]
    attendees = event["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    return (str(organizer), organizer.params.get("CN")), [
        {"address": str(a), **dict(a.params)} for a in attendees
    ]


def address(person_id) -> str:
    return f"mailto:{person_id}@people.trellis.invalid"


async def schedule(world, pair, headers=None, **body):
    body = {"start": later(30), "time_zone": "Europe/Berlin"} | body
    response = await world.sessions.post(
        f"{pair.url}/meetings", json=body, headers=headers or pair.mentor
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_meetings_ics_parses_back_and_follows_its_changes(world):
    pair = await world.pair()
    meeting = await schedule(
        world,
        pair,
        start=later(20, hour=9),
        time_zone="America/New_York",
        duration_minutes=50,
        location="https://meet.example.org/abc",
        agenda="Career plan; next steps",
    )
    url = f"/sessions/meetings/{meeting['id']}"

    calendar = parsed(await world.sessions.get(f"{url}.ics", headers=pair.mentee))
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//Trellis//Sessions//EN"
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    [event] = calendar.events
    assert event["UID"] == f"{meeting['id']}@trellis"
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event["DTEND"].params["TZID"] == "America/New_York"
    assert event.start.tzinfo == ZoneInfo("America/New_York")
    assert (event.start.hour, event.start.minute) == (9, 0)
    assert event.start.astimezone(UTC) == datetime.fromisoformat(meeting["starts_at"])
    assert event.end - event.start == timedelta(minutes=50)
    assert event["DTSTAMP"].dt.tzinfo is not None
    assert str(event["SUMMARY"]) == "Mentoring: Maya Mentor & Theo Mentee"
    assert str(event["DESCRIPTION"]) == "Career plan; next steps"
    assert str(event["LOCATION"]) == str(event["URL"]) == "https://meet.example.org/abc"
    assert event["STATUS"] == "CONFIRMED"
    organizer, attendees = people_of(event)
    assert organizer == (address(pair.mentor_id), "Maya Mentor")
    assert attendees == [
        {
            "address": address(person),
            "CN": name,
            "PARTSTAT": "NEEDS-ACTION",
            "ROLE": "REQ-PARTICIPANT",
        }
        for person, name in ((pair.mentor_id, "Maya Mentor"), (pair.mentee_id, "Theo Mentee"))
    ]

    moved = await world.sessions.post(
        f"{url}/reschedule", json={"start": later(21, hour=15)}, headers=pair.mentor
    )
    assert moved.status_code == 200, moved.text
    [event] = parsed(await world.sessions.get(f"{url}.ics", headers=pair.admin)).events
    assert (event["UID"], event["SEQUENCE"], event.start.hour) == (
        f"{meeting['id']}@trellis",
        1,
        15,
    )

    await world.sessions.post(f"{url}/cancel", json={"reason": "Ill"}, headers=pair.mentee)
    calendar = parsed(await world.sessions.get(f"{url}.ics", headers=pair.mentor))
    [event] = calendar.events
    assert (calendar["METHOD"], event["STATUS"], event["SEQUENCE"]) == ("CANCEL", "CANCELLED", 2)
    assert people_of(event)[0] == (address(pair.mentor_id), "Maya Mentor")
    assert len(people_of(event)[1]) == 2

    assert (await world.sessions.get(f"{url}.ics")).status_code == 401
    assert (await world.sessions.get(f"{url}.ics", headers=pair.stranger)).status_code == 404


async def test_an_in_person_meeting_has_a_place_and_no_url(world):
    pair = await world.pair()
    meeting = await schedule(world, pair, mode="in_person", location="Café Rosa, 2nd floor")
    calendar = parsed(
        await world.sessions.get(f"/sessions/meetings/{meeting['id']}.ics", headers=pair.mentor)
    )
    [event] = calendar.events
    assert str(event["LOCATION"]) == "Café Rosa, 2nd floor"
    assert "URL" not in event and "DESCRIPTION" not in event
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"


async def test_whoever_scheduled_a_meeting_organizes_it(world):
    pair = await world.pair()
    by_mentee = await schedule(world, pair, headers=pair.mentee)
    by_admin = await schedule(world, pair, start=later(31), headers=pair.admin)
    organizers = []
    for meeting in (by_mentee, by_admin):
        calendar = parsed(
            await world.sessions.get(f"/sessions/meetings/{meeting['id']}.ics", headers=pair.mentor)
        )
        [event] = calendar.events
        organizers.append(people_of(event)[0])
    # An admin is no attendee: the mentor stands in as organizer.
    assert organizers == [
        (address(pair.mentee_id), "Theo Mentee"),
        (address(pair.mentor_id), "Maya Mentor"),
    ]


async def test_a_persons_feed_lists_all_their_meetings_without_a_bearer(world):
    pair = await world.pair()
    mentee = await world.person(pair.org, name="Ada Mentee", time_zone="Asia/Tokyo")
    accepted = await world.accept(pair.org, pair.program_id, pair.mentor_id, mentee)
    other = dataclasses.replace(
        pair, match_id=accepted.data.match_id, mentee_id=mentee, mentorship={}
    )
    other.mentorship = await world.mentorship_of(other)
    kept = await schedule(world, pair, start=later(15))
    dropped = await schedule(world, other, start=later(16), time_zone="Asia/Tokyo")
    series = await schedule(
        world, other, start=later(17), recurrence="FREQ=WEEKLY;COUNT=2", headers=other.mentee
    )
    await world.sessions.post(f"/sessions/meetings/{dropped['id']}/cancel", headers=pair.mentor)
    unrelated = await world.pair(org=pair.org, program_id=pair.program_id)
    await schedule(world, unrelated, start=later(15, hour=12))

    created = await world.sessions.post("/sessions/calendar/feed", headers=pair.mentor)
    assert created.status_code == 201, created.text
    absolute = created.json()["url"]
    # Absolute, on the public base URL (the default here), so a calendar app can subscribe to it.
    assert absolute.startswith("http://localhost:8080/sessions/calendar/")
    assert absolute.endswith(".ics")
    assert created.json()["webcal_url"] == "webcal://" + absolute.removeprefix("http://")
    feed_url = urlsplit(absolute).path

    calendar = parsed(await world.sessions.get(feed_url))  # no Authorization header
    assert "METHOD" not in calendar
    statuses = {str(e["UID"]): str(e["STATUS"]) for e in calendar.events}
    assert statuses == {
        f"{kept['id']}@trellis": "CONFIRMED",
        f"{dropped['id']}@trellis": "CANCELLED",
        **{f"{m['id']}@trellis": "CONFIRMED" for m in series["occurrences"]},
    }
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {"Europe/Berlin", "Asia/Tokyo"}
    token = feed_url.removeprefix("/sessions/calendar/").removesuffix(".ics")
    stored = await world.rows(
        "SELECT token_sha256 FROM calendar_feed WHERE person_id = :p", p=pair.mentor_id
    )
    assert len(stored) == 1 and token not in stored[0]["token_sha256"]

    rotated = await world.sessions.post("/sessions/calendar/feed", headers=pair.mentor)
    rotated_url = urlsplit(rotated.json()["url"]).path
    assert rotated_url != feed_url
    assert (await world.sessions.get(feed_url)).status_code == 404
    assert parsed(await world.sessions.get(rotated_url)).events
    revoked = await world.sessions.delete("/sessions/calendar/feed", headers=pair.mentor)
    assert revoked.status_code == 204
    assert (await world.sessions.get(rotated_url)).status_code == 404

    for unknown in (
        "/sessions/calendar/not-a-token.ics",
        "/sessions/calendar/" + "A" * 43 + ".ics",
    ):
        response = await world.sessions.get(unknown)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await world.sessions.post("/sessions/calendar/feed")).status_code == 401
    by_admin = await world.sessions.post("/sessions/calendar/feed", headers=pair.admin)
    assert by_admin.status_code == 403


async def test_a_capped_feed_keeps_the_meetings_ahead_nearest_first_then_recent_past(world):
    pair = await world.pair()
    ids = {}
    for name, days in (("old", 3), ("recent", 4), ("near", 10), ("middle", 11), ("far", 12)):
        ids[name] = uuid.UUID((await schedule(world, pair, start=later(days)))["id"])
    # The API refuses past starts: move two meetings back to have taken place 9 and 2 days ago.
    async with world.engine.begin() as conn:
        for name, days_ago in (("old", 9), ("recent", 2)):
            await conn.execute(
                sa.text(
                    "UPDATE meeting SET starts_at = now() - make_interval(days => :d),"
                    " ends_at = now() - make_interval(days => :d) + interval '45 minutes'"
                    " WHERE id = :id"
                ),
                {"d": days_ago, "id": ids[name]},
            )

    async def kept(limit: int) -> list[str]:
        async with AsyncSession(world.engine) as session:
            meetings, _ = await feed.meetings_of(
                session, organization_id=pair.org, person_id=pair.mentor_id, limit=limit
            )
        names = {v: k for k, v in ids.items()}
        return [names[m.id] for m in meetings]

    assert await kept(2) == ["near", "middle"]
    assert await kept(4) == ["recent", "near", "middle", "far"]
    assert await kept(10) == ["old", "recent", "near", "middle", "far"]
