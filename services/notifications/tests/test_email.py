"""Email over real SMTP: an aiosmtpd server (the handler `make up`'s sink uses, filing .eml files)
receives what the worker sends, and the tests read what arrived. The worker is driven with
`run_once(now=...)`; the app's own background pass runs once at start-up and then sleeps, except
in the test that lets a fast copy of it deliver on its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import icalendar
import pytest
import sqlalchemy as sa
import uvicorn

from trellis_infra.mailsink import Mailbox, serve
from trellis_infra.pytest_plugin import bearer, eventually, settings_for
from trellis_notifications.email import digest, sender, tokens
from trellis_notifications.main import create_app
from trellis_notifications.reminders import run_once as remind
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s

BASE = "https://trellis.example.org"
MINUTE = timedelta(minutes=1)


class Sink(Mailbox):
    """Files what arrives like the local sink; refuses mailboxes named bounce-* (550); holds
    messages to slow-* mailboxes while `gate` is closed."""

    gate: asyncio.Event | None = None
    held = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.gate is not None and any(r.startswith("slow-") for r in envelope.rcpt_tos):
            self.held += 1
            await self.gate.wait()
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.startswith("bounce-"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def by_id(self, delivery_id: uuid.UUID) -> list[EmailMessage]:
        """The messages that arrived for one delivery row (Message-ID <row id@trellis>)."""
        parser = BytesParser(policy=policy.default)
        found = [parser.parsebytes(path.read_bytes()) for path in sorted(self.messages())]
        return [msg for msg in found if msg["Message-ID"] == f"<{delivery_id}@trellis>"]


class SmtpServer:
    def __init__(self, sink: Sink, port: int) -> None:
        self.sink, self.port, self.server = sink, port, None

    async def start(self) -> None:
        self.server = await serve(self.sink, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
async def smtp(tmp_path_factory) -> AsyncIterator[SmtpServer]:
    server = SmtpServer(Sink(tmp_path_factory.mktemp("mail")), _free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def mail_app(stack, smtp):
    settings = settings_for(
        stack,
        "notifications",
        NotificationsSettings,
        smtp_port=smtp.port,
        smtp_timeout_s=30,
        email_interval_s=3600,
        public_base_url=BASE,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
async def served(mail_app) -> AsyncIterator[str]:
    """This module's app (sending to the test SMTP server) behind conftest's `world`."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(mail_app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module", autouse=True)
async def only_this_modules_mail(world):
    """Start from a quiet queue: once the consumer has caught up with what earlier test modules
    published (markers on every partition come back as welcomes), the mail they queued is set
    aside, so each test here sees only the rows it made."""
    org = uuid.uuid4()
    markers = [uuid.uuid4() for _ in range(24)]  # 24 keys: every one of the 6 partitions, surely
    for marker in markers:
        await world.publish(
            p.PersonRegistered(
                person_id=marker,
                full_name="Queue Marker",
                email=f"marker-{marker.hex[:8]}@example.org",
                time_zone="UTC",
                locale="en",
                registered_at=datetime.now(UTC),
            ),
            org=org,
            source="trellis/profiles",
        )

    async def welcomed() -> int:
        found = await world.rows(
            "SELECT count(*) AS n FROM inbox_item WHERE person_id = ANY(:ids)", ids=markers
        )
        return found[0]["n"]

    await eventually(welcomed, until=lambda n: n == len(markers), timeout=300)
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE email_delivery SET status = 'suppressed', "
                "last_error = 'set aside: queued by an earlier test module' "
                "WHERE status IN ('queued', 'digest')"
            )
        )


async def deliver(app, now: datetime | None = None) -> sender.Pass:
    """Send everything due, pass after pass, and say what was done in total.

    In a full test run the other services' tests published thousands of events before this
    module, and notifications queued their mail too: one pass (a batch, oldest first) may not
    reach this test's rows, so it drains."""
    total = sender.Pass()
    while True:
        done = await sender.run_once(app.state.runtime.sessionmaker, app.state.settings, now=now)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        if done.claimed < app.state.settings.email_batch_size:
            return total


async def rows(world, person: uuid.UUID, template: str) -> list[Any]:
    return [r for r in await world.emails(person) if r["template"] == template]


async def one_row(world, person: uuid.UUID, template: str) -> Any:
    [row] = await eventually(lambda: rows(world, person, template), until=lambda r: len(r) == 1)
    return row


async def fresh(world, row: Any) -> Any:
    """The row as it is now."""
    [now] = await world.rows("SELECT * FROM email_delivery WHERE id = :i", i=row["id"])
    return now


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return text, message.get_body(preferencelist=("html",)).get_content()


def invite_of(message: EmailMessage) -> tuple[str, icalendar.Event]:
    [part] = [x for x in message.walk() if x.get_content_type() == "text/calendar"]
    assert part.get_filename() == "invite.ics"
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert calendar["METHOD"] == part.get_param("method")
    [event] = calendar.events
    return str(calendar["METHOD"]), event


async def pair(world, **zones: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    org = uuid.uuid4()
    mentor = await world.person(
        org, name="Maya O'Brien", time_zone=zones.get("mentor", "America/New_York")
    )
    mentee = await world.person(
        org, name="Theo Mentee", time_zone=zones.get("mentee", "Europe/London")
    )
    return org, mentor, mentee


def _mentorship(mentor: uuid.UUID, mentee: uuid.UUID) -> dict[str, Any]:
    return {
        "mentorship_id": uuid.uuid4(),
        "program_id": uuid.uuid4(),
        "mentor_id": mentor,
        "mentee_id": mentee,
    }


def goal(mentor: uuid.UUID, mentee: uuid.UUID, title: str) -> s.GoalCompleted:
    return s.GoalCompleted(
        **_mentorship(mentor, mentee),
        goal_id=uuid.uuid4(),
        title=title,
        completed_by="mentee",
        completed_at=datetime.now(UTC),
    )


def meeting_fields(mentor, mentee, meeting_id, starts_at, sequence) -> dict[str, Any]:
    return _mentorship(mentor, mentee) | {
        "meeting_id": meeting_id,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=45),
        "time_zone": "America/New_York",
        "mode": "video",
        "location": "https://meet.example.org/abc",
        "sequence": sequence,
    }


async def test_an_event_arrives_with_text_html_unsubscribe_and_the_invite(world, mail_app, smtp):
    org, mentor, mentee = await pair(world)
    meeting_id = uuid.uuid4()
    starts = datetime(2027, 1, 11, 14, 0, tzinfo=UTC)  # 09:00 in New York, 14:00 in London
    await world.publish(
        s.MeetingScheduled(
            **meeting_fields(mentor, mentee, meeting_id, starts, 2),
            scheduled_by="mentor",
            scheduled_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    row = await one_row(world, mentee, "meeting_scheduled")
    await deliver(mail_app)

    [message] = smtp.sink.by_id(row["id"])
    assert message["To"] == row["to_address"]
    assert message["From"] == "Trellis <no-reply@trellis.local>"
    # Plain text, not HTML entities, in the subject and the text part.
    assert message["Subject"] == "Meeting with Maya O'Brien: Mon 11 Jan 2027, 14:00 GMT"
    assert message["Date"]
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{BASE}/notifications/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [x.get_content_type() for x in message.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    text, html = parts(message)
    assert "A meeting with Maya O'Brien is planned for Mon 11 Jan 2027, 14:00 GMT" in text
    assert f"Stop these emails: {link}" in text
    assert "Maya O&#39;Brien" in html and f'href="{link}"' in html
    method, event = invite_of(message)
    assert method == "REQUEST"
    assert event["UID"] == f"{meeting_id}@trellis"  # the UID sessions' calendar feed uses
    assert event["SEQUENCE"] == 2
    assert event["SUMMARY"] == "Mentoring: Maya O'Brien & Theo Mentee"
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.start == starts and event.end == starts + timedelta(minutes=45)
    sent = await fresh(world, row)
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 1, None)

    await world.publish(
        s.MeetingCancelled(
            **meeting_fields(mentor, mentee, meeting_id, starts, 3),
            cancelled_by="mentee",
            cancelled_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    row = await one_row(world, mentor, "meeting_cancelled")
    await deliver(mail_app)
    [message] = smtp.sink.by_id(row["id"])
    method, event = invite_of(message)
    assert method == "CANCEL"
    assert (event["UID"], event["SEQUENCE"]) == (f"{meeting_id}@trellis", 3)
    assert event["STATUS"] == "CANCELLED"


async def test_smtp_down_keeps_mail_queued_and_the_consumer_going_then_it_goes_once(
    world, mail_app, smtp
):
    org, mentor, mentee = await pair(world)
    await deliver(mail_app)  # their welcomes
    await smtp.stop()
    try:
        await world.publish(goal(mentor, mentee, "Ship v1"), org=org, source="trellis/sessions")
        row = await one_row(world, mentee, "goal_completed")
        done = await deliver(mail_app)
        assert done.retrying >= 2 and done.sent == 0
        waiting = await fresh(world, row)
        assert (waiting["status"], waiting["attempts"]) == ("queued", 1)
        assert "SMTPConnectError" in waiting["last_error"]
        assert waiting["due_at"] > datetime.now(UTC)  # backed off
        # Meanwhile the consumer goes on: the next event still reaches the inbox.
        await world.publish(goal(mentor, mentee, "Ship v2"), org=org, source="trellis/sessions")
        await eventually(
            lambda: world.inbox(org, mentee),
            until=lambda i: "Goal reached: Ship v2" in [x["title"] for x in i["data"]],
        )
    finally:
        await smtp.start()

    later = datetime.now(UTC) + 90 * MINUTE
    await deliver(mail_app, now=later)
    [message] = smtp.sink.by_id(row["id"])
    assert re.search(r"This message was delayed by (89|90) minutes\.", parts(message)[0])
    assert "This message was delayed by" in parts(message)[1]
    await deliver(mail_app, now=later + 3 * 60 * MINUTE)
    assert len(smtp.sink.by_id(row["id"])) == 1
    sent = await fresh(world, row)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)


async def test_a_reminder_still_unsent_when_the_meeting_starts_is_never_sent(world, mail_app, smtp):
    org, mentor, mentee = await pair(world)
    for person in (mentor, mentee):
        put = await world.http.put(
            "/notifications/preferences",
            json={"reminder_lead_minutes": [60]},
            headers=world.member(org, person),
        )
        assert put.status_code == 200, put.text
    await deliver(mail_app)  # their welcomes
    # Far enough ahead that the app's own reminders worker leaves it to this test's clock, near
    # enough that the email's 24 h retry window is still open when the meeting starts.
    starts = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    await world.publish(
        s.MeetingScheduled(
            **meeting_fields(mentor, mentee, uuid.uuid4(), starts, 1),
            scheduled_by="mentor",
            scheduled_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    row = await one_row(world, mentee, "meeting_scheduled")
    await deliver(mail_app)
    assert (await fresh(world, row))["status"] == "sent"
    await eventually(
        lambda: world.rows("SELECT * FROM reminder WHERE person_id = :p", p=mentee), until=len
    )
    await remind(mail_app.state.runtime.sessionmaker, now=starts - 60 * MINUTE)
    reminder = await one_row(world, mentee, "meeting_reminder")
    assert reminder["not_after"] == starts

    await smtp.stop()
    try:
        done = await deliver(mail_app, now=starts - 59 * MINUTE)
        assert done.retrying >= 1 and done.sent == 0
        waiting = await fresh(world, reminder)
        assert waiting["status"] == "queued" and waiting["due_at"] <= starts
    finally:
        await smtp.start()
    # SMTP is back, but only after the meeting began: "starts in 1 hour" would now be false.
    done = await deliver(mail_app, now=starts + MINUTE)
    assert done.expired >= 1
    expired = await fresh(world, reminder)
    assert expired["status"] == "expired" and expired["sent_at"] is None
    assert expired["last_error"].startswith("expired: still unsent at")
    await deliver(mail_app, now=starts + 3 * 60 * MINUTE)
    assert smtp.sink.by_id(reminder["id"]) == []
    assert (await fresh(world, reminder))["status"] == "expired"
    # The in-app reminder stays.
    inbox = await world.inbox(org, mentee)
    assert "meeting_reminder" in [i["kind"] for i in inbox["data"]]


async def test_a_permanent_refusal_fails_at_once_with_the_error(world, mail_app, smtp):
    org = uuid.uuid4()
    person = await world.person(org, email=f"bounce-{uuid.uuid4().hex[:8]}@example.org")
    row = await one_row(world, person, "welcome")
    await deliver(mail_app)
    failed = await fresh(world, row)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"].startswith("550 5.1.1 No such mailbox here")
    assert smtp.sink.by_id(row["id"]) == []


async def test_a_second_worker_leaves_claimed_emails_alone(world, mail_app, smtp):
    org = uuid.uuid4()
    people = [
        await world.person(org, name=f"Slow {i}", email=f"slow-{uuid.uuid4().hex[:8]}@example.org")
        for i in range(3)
    ]
    welcomes = [await one_row(world, person, "welcome") for person in people]
    smtp.sink.gate = asyncio.Event()

    async def held() -> int:
        return smtp.sink.held

    try:
        # The first worker is in the middle of sending them when the second one looks.
        first = asyncio.create_task(deliver(mail_app))
        holding = await eventually(held, until=lambda n: n >= 1)  # all three claimed by then
        second = asyncio.create_task(deliver(mail_app))
        # It finishes without them (or, were they not leased, would be held sending them too).
        await eventually(held, until=lambda n: second.done() or n > holding)
    finally:
        smtp.sink.gate.set()
    await asyncio.gather(first, second)
    assert [len(smtp.sink.by_id(w["id"])) for w in welcomes] == [1, 1, 1]
    assert [(await fresh(world, w))["attempts"] for w in welcomes] == [1, 1, 1]


async def test_an_unknown_address_waits_for_the_registration_then_gives_up(world, mail_app, smtp):
    org = uuid.uuid4()
    known = await world.person(org)
    late, never = uuid.uuid4(), uuid.uuid4()  # their registrations have not arrived
    for stranger in (late, never):
        await world.publish(goal(known, stranger, "Early bird"), org=org, source="s")
    waiting = [await one_row(world, who, "goal_completed") for who in (late, never)]
    assert [w["to_address"] for w in waiting] == [None, None]
    await deliver(mail_app)
    assert [(await fresh(world, w))["status"] for w in waiting] == ["queued", "queued"]
    await world.publish(
        p.PersonRegistered(
            person_id=late,
            full_name="Late Comer",
            email="late.comer@example.org",
            time_zone="UTC",
            locale="en",
            registered_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/profiles",
    )
    await eventually(lambda: world.inbox(org, late), until=lambda i: len(i["data"]) == 2)
    await deliver(mail_app, now=datetime.now(UTC) + 5 * MINUTE)
    [message] = smtp.sink.by_id(waiting[0]["id"])
    assert message["To"] == "late.comer@example.org"

    await deliver(mail_app, now=waiting[1]["created_at"] + timedelta(hours=24, minutes=1))
    gave_up = await fresh(world, waiting[1])
    assert (gave_up["status"], gave_up["last_error"]) == ("failed", "no address")


async def test_the_erasure_confirmation_is_sent_and_its_address_blanked(world, mail_app, smtp):
    org = uuid.uuid4()
    person = await world.person(org, name="Eve Erased")
    await deliver(mail_app)
    await world.publish(
        p.PersonErased(person_id=person, erased_at=datetime.now(UTC)), org=org, source="p"
    )
    row = await one_row(world, person, "erasure_confirmed")
    address = row["to_address"]
    assert address.endswith("@example.org")
    await deliver(mail_app)
    [message] = smtp.sink.by_id(row["id"])
    assert message["To"] == address
    assert message["Subject"] == "Your Trellis data has been erased"
    assert message["List-Unsubscribe"] is None  # critical: not something to unsubscribe from
    done = await fresh(world, row)
    assert (done["status"], done["to_address"], done["context"]) == ("sent", None, {})


async def test_the_background_worker_sends_on_its_own(world, mail_app, smtp):
    runtime = mail_app.state.runtime
    fast = mail_app.state.settings.model_copy(update={"email_interval_s": 0.1})
    worker = asyncio.create_task(
        sender.job(
            dataclasses.replace(runtime, spec=dataclasses.replace(runtime.spec, settings=fast))
        )
    )
    try:
        org = uuid.uuid4()
        person = await world.person(org, name="Walter Worker")
        row = await one_row(world, person, "welcome")

        async def arrived() -> list[EmailMessage]:
            return smtp.sink.by_id(row["id"])

        [message] = await eventually(arrived)
        assert message["Subject"] == "Welcome to Trellis, Walter"
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


def unsubscribe_token(message: EmailMessage, secret: str) -> tuple[str, tokens.Unsubscribe]:
    link = message["List-Unsubscribe"].strip("<>")
    token = link.split("token=", 1)[1]
    return link.removeprefix(BASE), tokens.verify(token, secret)


# The second half (preferences: quiet hours, digests, unsubscribe, languages, program admins)
# shares this module's SMTP server and app.
async def test_quiet_hours_hold_the_email_until_they_end(world, mail_app, smtp):
    org, mentor, mentee = await pair(world, mentee="UTC")
    await deliver(mail_app)
    now = datetime.now(UTC)
    quiet = {
        "start": (now - 60 * MINUTE).strftime("%H:%M"),
        "end": (now + 120 * MINUTE).strftime("%H:%M"),
    }
    put = await world.http.put(
        "/notifications/preferences", json={"quiet_hours": quiet}, headers=world.member(org, mentee)
    )
    assert put.status_code == 200, put.text
    await world.publish(goal(mentor, mentee, "Quiet please"), org=org, source="s")
    row = await one_row(world, mentee, "goal_completed")
    assert row["delayed_for"] == "quiet_hours"

    await deliver(mail_app, now=row["due_at"] - MINUTE)
    assert smtp.sink.by_id(row["id"]) == []
    assert (await fresh(world, row))["status"] == "queued"
    await deliver(mail_app, now=row["due_at"] + MINUTE)
    [message] = smtp.sink.by_id(row["id"])
    assert "delayed" not in parts(message)[0]  # quiet hours are the person's wish, not a delay


async def test_a_daily_digest_gathers_the_items_into_one_email(world, mail_app, smtp):
    org, mentor, mentee = await pair(world, mentee="Europe/Madrid")
    await deliver(mail_app)
    put = await world.http.put(
        "/notifications/preferences",
        # Its quiet hours cover the digest's time: the digest goes anyway (they chose the time).
        json={
            "digest": "daily",
            "digest_time": "08:00",
            "quiet_hours": {"start": "07:00", "end": "10:00"},
        },
        headers=world.member(org, mentee),
    )
    assert put.status_code == 200, put.text
    titles = ["Goal reached: Speak at a meetup", "Goal reached: Write a blog post"]
    for title in titles:
        await world.publish(goal(mentor, mentee, title.split(": ")[1]), org=org, source="s")
    await world.publish(
        s.MilestoneAchieved(
            **_mentorship(mentor, mentee),
            milestone_id=uuid.uuid4(),
            goal_id=uuid.uuid4(),
            title="First draft",
            achieved_by="mentee",
            achieved_at=datetime.now(UTC),
        ),
        org=org,
        source="s",
    )
    items = await eventually(
        lambda: world.rows(
            "SELECT * FROM email_delivery WHERE person_id = :p AND status = 'digest'", p=mentee
        ),
        until=lambda r: len(r) == 3,
    )
    due = items[0]["due_at"]
    assert {i["due_at"] for i in items} == {due}
    sessionmaker, settings = mail_app.state.runtime.sessionmaker, mail_app.state.settings

    await digest.run_once(sessionmaker, settings, now=due - MINUTE)
    assert [(await fresh(world, i))["status"] for i in items] == ["digest"] * 3
    await digest.run_once(sessionmaker, settings, now=due + MINUTE)
    await deliver(mail_app, now=due + MINUTE)
    assert [(await fresh(world, i))["status"] for i in items] == ["sent"] * 3
    [row] = await rows(world, mentee, "digest")
    [message] = smtp.sink.by_id(row["id"])
    assert message["Subject"] == "Your Trellis digest: 3 updates"
    text, html = parts(message)
    for subject in [*titles, "Milestone reached: First draft"]:
        assert subject in text and subject in html
    _, claim = unsubscribe_token(message, settings.unsubscribe_secret)
    assert (claim.person_id, claim.categories) == (mentee, ("progress",))


async def test_unsubscribing_by_page_or_one_click_switches_the_category_off(world, mail_app, smtp):
    org, mentor, mentee = await pair(world)
    secret = mail_app.state.settings.unsubscribe_secret
    await world.publish(goal(mentor, mentee, "First"), org=org, source="s")
    first = await one_row(world, mentee, "goal_completed")
    await deliver(mail_app)
    [message] = smtp.sink.by_id(first["id"])
    path, claim = unsubscribe_token(message, secret)
    assert (claim.person_id, claim.organization_id, claim.categories) == (
        mentee,
        org,
        ("progress",),
    )

    page = await world.http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "progress" in page.text and 'method="post"' in page.text
    headers = world.member(org, mentee)
    before = (await world.http.get("/notifications/preferences", headers=headers)).json()
    assert before["channels"]["progress"]["email"] is True  # opening the page changed nothing

    # One queued before the click never goes; the click (RFC 8058 one-click POST) switches it off.
    await world.publish(goal(mentor, mentee, "Second"), org=org, source="s")
    await eventually(lambda: rows(world, mentee, "goal_completed"), until=lambda r: len(r) == 2)
    click = await world.http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert click.status_code == 200, click.text
    again = await world.http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    after = (await world.http.get("/notifications/preferences", headers=headers)).json()
    assert after["channels"]["progress"] == {"inbox": True, "email": False}
    assert after["channels"]["meetings"]["email"] is True
    assert after["version"] == before["version"] + 1  # the second click changed nothing
    await deliver(mail_app)
    second = [r for r in await rows(world, mentee, "goal_completed") if r["id"] != first["id"]]
    assert second[0]["status"] == "suppressed" and smtp.sink.by_id(second[0]["id"]) == []
    await world.publish(goal(mentor, mentee, "Third"), org=org, source="s")
    await eventually(
        lambda: world.inbox(org, mentee),
        until=lambda i: "Goal reached: Third" in [x["title"] for x in i["data"]],
    )
    assert len(await rows(world, mentee, "goal_completed")) == 2  # in the inbox, not by email

    token = path.split("token=")[1]
    encoded, signature = token.split(".")
    forged = tokens.sign(tokens.Unsubscribe(mentee, org, ("matching",)), "not-our-secret")
    for bad in ("nonsense", f"{encoded}.{signature[:-2]}", forged):
        response = await world.http.post(f"/notifications/unsubscribe?token={bad}")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
    stranger = tokens.sign(tokens.Unsubscribe(uuid.uuid4(), org, ("matching",)), secret)
    assert (await world.http.get(f"/notifications/unsubscribe?token={stranger}")).status_code == 404
    assert (await world.http.get("/notifications/unsubscribe")).status_code == 422


async def test_spanish_where_translated_and_english_otherwise(world, mail_app, smtp):
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor")
    ana = await world.person(org, name="Ana García", locale="es", time_zone="Europe/Madrid")
    welcome = await one_row(world, ana, "welcome")
    await world.publish(
        m.MatchProposed(
            **{k: v for k, v in _mentorship(mentor, ana).items() if k != "mentorship_id"},
            match_id=uuid.uuid4(),
            score=0.8,
            explanation=[
                m.FactorExplanation(
                    factor="language", value=1, weight=1, reasons=["shares Spanish"]
                )
            ],
            origin="run",
            proposed_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/matching",
    )
    await world.publish(goal(mentor, ana, "Primer paso"), org=org, source="s")
    proposed = await one_row(world, ana, "match_proposed")
    reached = await one_row(world, ana, "goal_completed")
    # Every template has its Spanish; a language we do not write yet gets English.
    pierre = await world.person(org, name="Pierre Durand", locale="fr-FR")
    bonjour = await one_row(world, pierre, "welcome")
    await deliver(mail_app)

    [hello] = smtp.sink.by_id(welcome["id"])
    assert hello["Subject"] == "Te damos la bienvenida a Trellis, Ana"
    text, html = parts(hello)
    assert "Tu perfil está listo" in text and "Dejar de recibir estos correos: https://" in text
    assert '<html lang="es">' in html and "Dejar de recibir estos correos</a>" in html
    [match] = smtp.sink.by_id(proposed["id"])
    assert match["Subject"] == "Te proponemos a Maya Mentor"
    assert "- shares Spanish" in parts(match)[0]
    [goal_mail] = smtp.sink.by_id(reached["id"])
    assert goal_mail["Subject"] == "Objetivo cumplido: Primer paso"
    text, html = parts(goal_mail)
    assert 'El objetivo "Primer paso"' in text and '<html lang="es">' in html
    # French is not written yet: all of it in English, frame included.
    [fallback] = smtp.sink.by_id(bonjour["id"])
    assert fallback["Subject"] == "Welcome to Trellis, Pierre"
    text, html = parts(fallback)
    assert "Stop these emails: https://" in text and '<html lang="en">' in html


async def test_program_admins_get_at_risk_items_and_a_digest_unless_switched_off(
    world, mail_app, smtp
):
    org, mentor, mentee = await pair(world)
    admin = await world.person(org, name="Ada Admin")
    opted_out = await world.person(org, name="Otto Optout")
    never_seen = await world.person(org, name="Nora Never")  # an admin who never called us
    # Reading their inbox as an org admin is all it takes: the digest is on by default.
    as_admin = bearer(org=org, roles=["org_admin"], sub=admin)
    read = await world.http.get("/notifications/inbox", headers=as_admin)
    assert read.status_code == 200, read.text
    url = "/notifications/admin-digest"
    as_otto = bearer(org=org, roles=["org_admin"], sub=opted_out)
    assert (await world.http.get(url, headers=as_otto)).json() == {"enabled": True}
    put = await world.http.put(url, json={"enabled": False}, headers=as_otto)
    assert put.status_code == 200 and put.json() == {"enabled": False}
    assert (await world.http.get(url, headers=as_otto)).json() == {"enabled": False}
    member = await world.http.put(url, json={"enabled": True}, headers=world.member(org, mentor))
    assert member.status_code == 403
    extra = await world.http.put(url, json={"enabled": True, "email": "x@y"}, headers=as_admin)
    assert extra.status_code == 422
    await deliver(mail_app)

    await world.publish(
        s.MentorshipAtRisk(
            **_mentorship(mentor, mentee),
            score=35,
            threshold=50,
            reasons=["No meeting for 30 days"],
            detected_at=datetime.now(UTC),
        ),
        org=org,
        source="trellis/sessions",
    )
    inbox = await eventually(lambda: world.inbox(org, admin), until=lambda i: len(i["data"]) == 2)
    assert (
        inbox["data"][0]["title"]
        == "Mentorship at risk in your program: Maya O'Brien & Theo Mentee"
    )
    assert inbox["data"][0]["category"] == "program_admin"
    row = await one_row(world, admin, "at_risk_admin")
    assert (row["status"], row["category"]) == ("digest", "program_admin")
    # Every admin is handled in the event's one transaction: Ada's item means the others had theirs.
    for other in (opted_out, never_seen):
        assert await rows(world, other, "at_risk_admin") == []
        assert [i["kind"] for i in (await world.inbox(org, other))["data"]] == ["welcome"]
    assert len(await rows(world, mentee, "mentorship_at_risk")) == 1  # the nudge, as before

    sessionmaker, settings = mail_app.state.runtime.sessionmaker, mail_app.state.settings
    await digest.run_once(sessionmaker, settings, now=row["due_at"] + MINUTE)
    await deliver(mail_app, now=row["due_at"] + MINUTE)
    [summary] = await rows(world, admin, "digest")
    [message] = smtp.sink.by_id(summary["id"])
    assert message["Subject"] == "Your Trellis digest: 1 update"
    assert "Mentorship at risk in your program: Maya O'Brien & Theo Mentee" in parts(message)[0]
