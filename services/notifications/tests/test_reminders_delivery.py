"""The worker sends reminders a batch at a time (`dispatch.deliver`): for each message of a batch
it must write exactly what `dispatch.notify` writes for that message alone, whatever the person's
preferences; and one reminder that cannot be sent must not hold back the rest of its batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from trellis_infra.pytest_plugin import eventually
from trellis_notifications import templates
from trellis_notifications.catalog import Recipient
from trellis_notifications.dispatch import Message, deliver, notify
from trellis_notifications.reminders import run_once
from trellis_notifications.reminders.models import ReminderFacts
from trellis_notifications.reminders.worker import MAX_ATTEMPTS
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s


async def test_a_batch_of_reminders_is_decided_exactly_as_dispatch_decides_one(world, sessionmaker):
    """The bulk path the worker takes and `dispatch.notify` write the same rows for the same
    message, whatever the person's preferences (reminders ignore quiet hours and digests)."""
    org = uuid.uuid4()
    program = uuid.uuid4()
    await world.publish(
        p.ProgramCreated(
            program_id=program,
            name="Women in Engineering",
            kind="one_to_one",
            meeting_cadence_days=14,
            meeting_minutes=45,
            matching=p.MatchingSettings(),
            version=1,
        ),
        org=org,
        source="trellis/profiles",
    )
    mentor = await world.person(org, name="Maya Mentor")
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    wishes = {
        "plain": {},
        "quiet_digest": {"quiet_hours": quiet, "digest": "daily"},
        "no_email": {"channels": {"reminders": {"email": False}}},
        "no_inbox": {"channels": {"reminders": {"inbox": False}}},
        "erased": {},
    }
    people = {}
    for name, body in wishes.items():
        people[name] = await world.person(org, name=f"Theo {name}", time_zone="Asia/Tokyo")
        put = await world.http.put(
            "/notifications/preferences", json=body, headers=world.member(org, people[name])
        )
        assert put.status_code == 200, put.text
    await world.publish(
        p.PersonErased(person_id=people["erased"], erased_at=now), org=org, source="profiles"
    )
    await eventually(
        lambda: world.rows("SELECT erased FROM person_view WHERE id = :p", p=people["erased"]),
        until=lambda rows: rows[0]["erased"],
    )
    people["unknown"] = uuid.uuid4()  # their registration has not arrived yet

    starts = now + timedelta(hours=1)
    facts = ReminderFacts(
        meeting_id=uuid.uuid4(),
        mentorship_id=uuid.uuid4(),
        program_id=program,
        mentor_id=mentor,
        mentee_id=uuid.uuid4(),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        time_zone="Europe/Paris",
        mode="video",
        location="https://meet.example.org/abc",
        lead_minutes=60,
    )
    link, extra = (
        f"/sessions/meetings/{facts.meeting_id}",
        {"starts_in": "1 hour", "lead": "1 hour"},
    )
    extra |= {"lead_minutes": 60, "late_by_minutes": None, "late_by": None}
    one, bulk = {n: uuid.uuid4() for n in people}, {n: uuid.uuid4() for n in people}
    async with sessionmaker() as session, session.begin():
        for name, person in people.items():
            await notify(
                session,
                tenant=org,
                recipient=Recipient(person, "mentee", mentor),
                source_id=one[name],
                template="meeting_reminder",
                category="reminders",
                data=facts,
                link=link,
                extra=extra,
            )
        await deliver(
            session,
            [
                Message(
                    org,
                    Recipient(person, "mentee", mentor),
                    bulk[name],
                    "meeting_reminder",
                    "reminders",
                    facts,
                    link,
                    extra=extra,
                )
                for name, person in people.items()
            ],
        )

    async def written(source: uuid.UUID) -> tuple[list, list]:
        inbox = await world.rows(
            "SELECT kind, category, title, body, link FROM inbox_item WHERE source_event_id = :s",
            s=source,
        )
        email = await world.rows(
            "SELECT template, category, critical, locale, context, to_address, status, "
            "delayed_for FROM email_delivery WHERE source_id = :s",
            s=source,
        )
        return [dict(r) for r in inbox], [dict(r) for r in email]

    outcomes = {name: await written(one[name]) for name in people}
    for name in people:
        assert await written(bulk[name]) == outcomes[name], name
    assert outcomes["plain"][0][0]["title"] == "Reminder: meeting with Maya Mentor in 1 hour"
    assert outcomes["plain"][1][0]["context"]["program"] == "Women in Engineering"
    assert outcomes["quiet_digest"][1][0]["status"] == "queued"
    assert outcomes["quiet_digest"][1][0]["delayed_for"] is None
    assert outcomes["no_email"][1] == [] and outcomes["no_email"][0] != []
    assert outcomes["no_inbox"][0] == [] and outcomes["no_inbox"][1] != []
    assert outcomes["erased"] == ([], [])
    assert outcomes["unknown"][1][0]["to_address"] is None


async def test_a_reminder_that_cannot_be_sent_does_not_hold_back_the_others(
    world, sessionmaker, monkeypatch
):
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor")
    poison = await world.person(org, name="Poison Pill")
    fine = await world.person(org, name="Fine Mentee")
    starts = datetime.now(UTC) + timedelta(days=3)
    meetings = {}
    for mentee in (poison, fine):
        meetings[mentee] = uuid.uuid4()
        await world.publish(
            s.MeetingScheduled(
                mentorship_id=uuid.uuid4(),
                program_id=uuid.uuid4(),
                mentor_id=mentor,
                mentee_id=mentee,
                meeting_id=meetings[mentee],
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                time_zone="UTC",
                mode="phone",
                scheduled_by="mentor",
                scheduled_at=datetime.now(UTC),
            ),
            org=org,
            source="trellis/sessions",
        )

    async def hourly() -> dict[tuple, dict]:
        rows = await world.rows(
            "SELECT * FROM reminder WHERE meeting_id IN (:a, :b) AND lead_minutes = 60",
            a=meetings[poison],
            b=meetings[fine],
        )
        return {(r["meeting_id"], r["person_id"]): dict(r) for r in rows}

    await eventually(hourly, until=lambda rows: len(rows) == 4)
    render = templates.render

    def broken_for_one(template: str, locale: str, context: dict):
        if context["recipient"]["name"] == "Poison Pill":
            raise RuntimeError("the template cannot be rendered")
        return render(template, locale, context)

    monkeypatch.setattr(templates, "render", broken_for_one)
    at = starts - timedelta(minutes=59)
    await run_once(sessionmaker, now=at)
    rows = await hourly()
    stuck = rows.pop((meetings[poison], poison))
    assert (stuck["status"], stuck["attempts"]) == ("scheduled", 1)
    assert {r["status"] for r in rows.values()} == {"sent"}  # the others went out regardless

    for _ in range(MAX_ATTEMPTS - 1):
        await run_once(sessionmaker, now=at)
    stuck = (await hourly())[(meetings[poison], poison)]
    assert (stuck["status"], stuck["attempts"]) == ("skipped", MAX_ATTEMPTS)
    assert stuck["reason"] == "could not be sent: RuntimeError: the template cannot be rendered"
