"""From events to messages: the right people, in their words and zone, on the channels their
preferences allow, once per event — and live on an open inbox stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from trellis_infra.pytest_plugin import eventually
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s


async def _pair(world, **zones):
    org = uuid.uuid4()
    mentor = await world.person(
        org, name="Maya Mentor", time_zone=zones.get("mentor", "America/New_York")
    )
    mentee = await world.person(
        org, name="Theo Mentee", time_zone=zones.get("mentee", "Europe/London")
    )
    return org, mentor, mentee


def _meeting(org_program, mentor, mentee, starts_at, **extra) -> s.MeetingScheduled:
    return s.MeetingScheduled(
        mentorship_id=uuid.uuid4(),
        program_id=org_program,
        mentor_id=mentor,
        mentee_id=mentee,
        meeting_id=uuid.uuid4(),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        time_zone="America/New_York",
        mode="video",
        location="https://meet.example.org/abc",
        scheduled_by="mentor",
        scheduled_at=datetime.now(UTC),
        **extra,
    )


async def test_a_proposal_reaches_both_sides_with_the_why_once(world):
    org, mentor, mentee = await _pair(world)
    proposed = m.MatchProposed(
        match_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=mentor,
        mentee_id=mentee,
        score=0.82,
        explanation=[
            m.FactorExplanation(
                factor="skills", value=0.75, weight=2, reasons=["3 of 4 goal skills covered"]
            )
        ],
        origin="run",
        proposed_at=datetime.now(UTC),
    )
    event = await world.publish(proposed, org=org, source="trellis/matching")
    await world.publish(proposed, org=org, source="trellis/matching")  # a second, distinct event

    inbox = await eventually(lambda: world.inbox(org, mentee), until=lambda i: len(i["data"]) >= 3)
    titles = [i["title"] for i in inbox["data"]]
    assert titles.count("You have been matched with Maya Mentor") == 2
    mentor_inbox = await world.inbox(org, mentor)
    assert mentor_inbox["data"][0]["title"] == "You have been matched with Theo Mentee"
    assert "3 of 4 goal skills covered" in mentor_inbox["data"][0]["body"]
    assert mentor_inbox["data"][0]["link"] == f"/matching/proposals/{proposed.match_id}"
    assert mentor_inbox["data"][0]["category"] == "matching"
    emails = await world.emails(mentee)
    matched = [e for e in emails if e["template"] == "match_proposed"]
    assert len(matched) == 2  # one per event, never more
    assert {e["status"] for e in matched} == {"queued"}
    assert matched[0]["to_address"].endswith("@example.org")
    # The same event delivered again (a redelivery) adds nothing, to the inbox or to email.
    from trellis_shared.events import to_kafka

    message = to_kafka(event)
    await world.producer.send_and_wait(
        event.topic,
        value=message.value,
        key=message.key.encode(),
        headers=list(message.headers.items()),
    )
    marker = await world.person(org, name="Marker Person")  # the consumer got past the replay
    assert marker
    assert len([e for e in await world.emails(mentee) if e["template"] == "match_proposed"]) == 2


async def test_meeting_times_are_shown_in_each_persons_zone(world):
    org, mentor, mentee = await _pair(world)
    starts = datetime(2027, 1, 11, 14, 0, tzinfo=UTC)  # 09:00 in New York, 14:00 in London
    await world.publish(_meeting(uuid.uuid4(), mentor, mentee, starts), org=org, source="s")
    mine = await eventually(lambda: world.inbox(org, mentor), until=lambda i: len(i["data"]) >= 2)
    theirs = await eventually(lambda: world.inbox(org, mentee), until=lambda i: len(i["data"]) >= 2)
    assert mine["data"][0]["title"] == "Meeting with Theo Mentee: Mon 11 Jan 2027, 09:00 EST"
    assert theirs["data"][0]["title"] == "Meeting with Maya Mentor: Mon 11 Jan 2027, 14:00 GMT"


async def test_meeting_times_read_in_each_persons_language(world):
    org = uuid.uuid4()
    maya = await world.person(org, name="Maya Mentor", time_zone="Europe/Madrid")
    ana = await world.person(org, name="Ana García", time_zone="Europe/Madrid", locale="es-ES")
    starts = datetime(2027, 3, 10, 15, 30, tzinfo=UTC)  # 16:30 in Madrid, before summer time
    await world.publish(_meeting(uuid.uuid4(), maya, ana, starts), org=org, source="s")
    mine = await eventually(lambda: world.inbox(org, maya), until=lambda i: len(i["data"]) >= 2)
    theirs = await eventually(lambda: world.inbox(org, ana), until=lambda i: len(i["data"]) >= 2)
    assert mine["data"][0]["title"] == "Meeting with Ana García: Wed 10 Mar 2027, 16:30 CET"
    assert theirs["data"][0]["title"] == "Reunión con Maya Mentor: mié 10 mar 2027, 16:30 CET"
    assert "el mié 10 mar 2027, 16:30 CET (videollamada" in theirs["data"][0]["body"]
    # The email is rendered when sent, from the context queued with it.
    [queued] = [e for e in await world.emails(ana) if e["template"] == "meeting_scheduled"]
    assert (queued["locale"], queued["context"]["when"]) == ("es-ES", "mié 10 mar 2027, 16:30 CET")
    [english] = [e for e in await world.emails(maya) if e["template"] == "meeting_scheduled"]
    assert english["context"]["when"] == "Wed 10 Mar 2027, 16:30 CET"


async def test_preferences_switch_channels_and_time_the_email(world):
    org, mentor, mentee = await _pair(world, mentee="UTC")
    headers = world.member(org, mentee)
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    read = await world.http.get("/notifications/preferences", headers=headers)
    assert read.status_code == 200
    assert read.json()["channels"]["meetings"] == {"inbox": True, "email": True}
    assert read.json()["reminder_lead_minutes"] == [1440, 60]
    put = await world.http.put(
        "/notifications/preferences",
        json={
            "channels": {"matching": {"inbox": False, "email": False}},
            "quiet_hours": quiet,
            "reminder_lead_minutes": [60, 15, 60],
        },
        headers=headers | {"If-Match": read.headers["etag"]},
    )
    assert put.status_code == 200, put.text
    assert put.json()["reminder_lead_minutes"] == [60, 15]
    stale = await world.http.put(
        "/notifications/preferences", json={}, headers=headers | {"If-Match": read.headers["etag"]}
    )
    assert stale.status_code == 412

    await world.publish(
        m.MatchExpired(
            match_id=uuid.uuid4(),
            program_id=uuid.uuid4(),
            mentor_id=mentor,
            mentee_id=mentee,
            expired_at=now,
        ),
        org=org,
        source="trellis/matching",
    )
    await world.publish(
        _meeting(uuid.uuid4(), mentor, mentee, now + timedelta(days=3)), org=org, source="s"
    )
    inbox = await eventually(lambda: world.inbox(org, mentee), until=lambda i: len(i["data"]) >= 2)
    assert [i["kind"] for i in inbox["data"]] == ["meeting_scheduled", "welcome"]
    [email] = [e for e in await world.emails(mentee) if e["template"] == "meeting_scheduled"]
    assert email["status"] == "queued"
    assert email["delayed_for"] == "quiet_hours"
    assert email["due_at"] > now + timedelta(minutes=90)
    # The mentor kept the defaults: their email goes at once.
    [theirs] = [e for e in await world.emails(mentor) if e["template"] == "meeting_scheduled"]
    assert theirs["delayed_for"] is None

    digest = await world.http.put(
        "/notifications/preferences",
        json={"digest": "daily", "digest_time": "08:00"},
        headers=world.member(org, mentor),
    )
    assert digest.status_code == 200
    await world.publish(
        _meeting(uuid.uuid4(), mentor, mentee, now + timedelta(days=4)), org=org, source="s"
    )
    later = await eventually(
        lambda: world.emails(mentor),
        until=lambda rows: sum(r["template"] == "meeting_scheduled" for r in rows) == 2,
    )
    assert later[-1]["status"] == "digest"


async def test_bad_preferences_name_the_field(world):
    org = uuid.uuid4()
    person = await world.person(org)
    for body, field in (
        ({"channels": {"gossip": {"email": False}}}, "body.channels.gossip"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "body.quiet_hours.start"),
        ({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "body.quiet_hours.end"),
        ({"reminder_lead_minutes": [1]}, "body.reminder_lead_minutes.0"),
        ({"digest": "weekly"}, "body.digest"),
        ({"person_id": str(uuid.uuid4())}, "body.person_id"),
    ):
        response = await world.http.put(
            "/notifications/preferences", json=body, headers=world.member(org, person)
        )
        assert response.status_code == 422, (body, response.text)
        fields = {e["field"] for e in response.json()["errors"]}
        assert any(f.startswith(field) for f in fields), (field, fields)


async def test_preference_times_are_local_so_an_offset_is_refused(world):
    """Digest and quiet-hour times are wall-clock times in the person's zone: an offset would be
    dropped when stored (08:30+02:00 kept as 08:30), so it is refused, naming the field."""
    org = uuid.uuid4()
    person = await world.person(org)
    headers = world.member(org, person)
    for body, field in (
        ({"digest_time": "08:30:00+02:00"}, "body.digest_time"),
        ({"quiet_hours": {"start": "22:00Z", "end": "07:00"}}, "body.quiet_hours.start"),
    ):
        response = await world.http.put("/notifications/preferences", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]
    read = await world.http.get("/notifications/preferences", headers=headers)
    local = await world.http.put(
        "/notifications/preferences",
        json={"digest_time": "08:30"},
        headers=headers | {"If-Match": read.headers["etag"]},
    )
    assert local.status_code == 200, local.text
    assert local.json()["digest_time"] == "08:30:00"


async def test_read_all_and_the_live_stream(world):
    org, mentor, mentee = await _pair(world)
    headers = world.member(org, mentee)
    received: list[dict] = []
    opened = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=str(world.http.base_url), timeout=30) as client,
            client.stream("GET", "/notifications/inbox/stream", headers=headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line.removeprefix("data:").strip()))
                    return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(opened.wait(), 10)
    await asyncio.sleep(0.5)  # the stream has read what existed; now something new happens
    await world.publish(
        s.GoalCompleted(
            mentorship_id=uuid.uuid4(),
            program_id=uuid.uuid4(),
            mentor_id=mentor,
            mentee_id=mentee,
            goal_id=uuid.uuid4(),
            title="Give a conference talk",
            completed_by="mentee",
            completed_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    await asyncio.wait_for(listener, 30)
    assert received[0]["title"] == "Goal reached: Give a conference talk"
    assert received[0]["kind"] == "goal_completed"

    assert (await world.inbox(org, mentee))["unread_count"] == 2
    done = await world.http.post("/notifications/inbox/read-all", headers=headers)
    assert done.status_code == 200 and done.json()["marked_read"] == 2
    assert (await world.inbox(org, mentee))["unread_count"] == 0
    assert (await world.inbox(org, mentor))["unread_count"] == 2  # only the caller's own


async def test_an_erased_person_keeps_only_the_erasure_confirmation(world):
    org, _, mentee = await _pair(world)
    await world.publish(
        p.PersonErased(person_id=mentee, erased_at=datetime.now(UTC)), org=org, source="p"
    )
    emails = await eventually(
        lambda: world.emails(mentee),
        until=lambda rows: [r["template"] for r in rows] == ["erasure_confirmed"],
    )
    assert emails[0]["critical"] is True
    assert (await world.inbox(org, mentee))["data"] == []
    person = await world.rows("SELECT full_name, email FROM person_view WHERE id = :p", p=mentee)
    assert person[0]["email"] is None and person[0]["full_name"] == "Erased person"
