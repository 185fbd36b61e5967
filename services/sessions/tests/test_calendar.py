"""Meetings as iCalendar: an invite that parses back with the `icalendar` library and that a
calendar app updates in place, and a person's secret feed URL read without a bearer token."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar


def later(days: int, hour: int = 10) -> str:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00:00"


def parsed(response) -> icalendar.Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


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
    feed_url = created.json()["url"]
    assert feed_url.startswith("/sessions/calendar/") and feed_url.endswith(".ics")

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
    assert rotated.json()["url"] != feed_url
    assert (await world.sessions.get(feed_url)).status_code == 404
    assert parsed(await world.sessions.get(rotated.json()["url"])).events
    revoked = await world.sessions.delete("/sessions/calendar/feed", headers=pair.mentor)
    assert revoked.status_code == 204
    assert (await world.sessions.get(rotated.json()["url"])).status_code == 404

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
