"""From an event to messages: who hears about it (the catalog), in which words (templates, in
their language and time zone), on which channels (their preferences).

Runs inside the consumer's transaction, so the inbox items and queued emails of an event are
committed together with the inbox-of-events row: a redelivered event adds nothing, and the
unique keys (person, source, template) make a duplicate impossible even across replicas.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory, templates
from trellis_notifications.catalog import RULES, Recipient
from trellis_notifications.deliveries import EmailDelivery
from trellis_notifications.models import InboxItem
from trellis_notifications.preferences import service as preferences
from trellis_shared.db import settings_of
from trellis_shared.events import Event

INBOX_CHANNEL = "trellis_inbox"
BODY_LIMIT = 2000


# Day and month abbreviations by language, from a table rather than the process's C locale.
_CALENDAR_WORDS = {
    "en": (
        ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ),
    "es": (
        ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
        ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    ),
}


def local_time(at: datetime | None, zone: str, locale: str = "en") -> str | None:
    """`at` as the person reads it: in their zone, with the zone's abbreviation, and the day and
    month in their language ("Wed 10 Mar 2027, 16:30 CET", "mié 10 mar 2027, 16:30 CET")."""
    if at is None:
        return None
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local = at.astimezone(tz)
    days, months = _CALENDAR_WORDS.get(templates.language(locale), _CALENDAR_WORDS["en"])
    return (
        f"{days[local.weekday()]} {local.day} {months[local.month - 1]} {local.year}, "
        f"{local:%H:%M} {local.tzname()}"
    )


def _person(view: directory.PersonView | None, fallback: str) -> dict[str, Any]:
    name = view.full_name if view is not None else fallback
    return {"name": name, "first_name": name.split()[0] if view is not None else name}


def context_for(
    session: AsyncSession,
    data: Any,
    recipient: Recipient,
    people: dict[uuid.UUID, directory.PersonView],
    link: str | None,
    programs: dict[uuid.UUID, str],
    *,
    template: str,
) -> dict[str, Any]:
    """Everything a template may use; JSON only, since emails are rendered when sent.
    `people` and `programs` (names) by id, those known; `template` is the one the context is for:
    its times read in the language it is written in."""
    person = people.get(recipient.person_id)
    zone = person.time_zone if person is not None else "UTC"
    locale = templates.locale_for(template, person.locale if person is not None else "en")
    other = people.get(recipient.other_id) if recipient.other_id else None
    program_id = getattr(data, "program_id", None)
    base = settings_of(session).public_base_url.rstrip("/")
    return {
        "event": data.model_dump(mode="json"),
        "recipient": {"id": str(recipient.person_id), "role": recipient.role}
        | _person(person, "there"),
        "other": {"id": str(recipient.other_id) if recipient.other_id else None}
        | _person(other, "your match"),
        "program": programs.get(program_id, "your program") if program_id else None,
        "time_zone": zone,
        "when": local_time(getattr(data, "starts_at", None), zone, locale),
        "previous_when": local_time(getattr(data, "previous_starts_at", None), zone, locale),
        "expires": local_time(getattr(data, "expires_at", None), zone, locale),
        "link": f"{base}{link}" if link else None,
        "path": link,
    }


@dataclass(frozen=True)
class Message:
    """One message to one person, about `data` (an event's, or a reminder's facts)."""

    tenant: uuid.UUID
    recipient: Recipient
    source_id: uuid.UUID  # with the person and template, the key that makes a resend impossible
    template: str
    category: str
    data: Any
    link: str | None = None
    critical: bool = False  # sent whatever the person's switches, quiet hours and digest
    extra: dict[str, Any] | None = None  # added to the template's context
    digest: bool = False  # by email only in the person's daily digest (admins' summaries)
    not_after: datetime | None = None  # the email expires unsent then (a reminder: the meeting)


# Built once, each sent as one executemany: compiled once, its rows in a few round trips.
_INBOX = (
    insert(InboxItem.__table__)
    .on_conflict_do_nothing(constraint="uq_inbox_item_person_event")
    .returning(InboxItem.__table__.c.person_id)
)
_EMAIL = insert(EmailDelivery.__table__).on_conflict_do_nothing(
    constraint="uq_email_delivery_source"
)
_NOTIFY = sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:people AS text[])) AS p")


async def deliver(session: AsyncSession, messages: Sequence[Message]) -> None:
    """Each message to its person's inbox and email queue, on the channels their preferences
    allow, in a handful of statements however many there are: the people, their preferences and
    the programs are read once for all of them, and each table's rows go in one executemany."""
    if not messages:
        return
    now = datetime.now(UTC)
    wanted = {(m.tenant, m.recipient.person_id) for m in messages}
    wanted |= {(m.tenant, m.recipient.other_id) for m in messages if m.recipient.other_id}
    people = await directory.people_in(session, wanted)
    prefs = await preferences.effective_of(
        session, {(m.tenant, m.recipient.person_id) for m in messages}
    )
    programs = await directory.program_names(
        session,
        {(m.tenant, p) for m in messages if (p := getattr(m.data, "program_id", None)) is not None},
    )
    inbox_rows: list[dict[str, Any]] = []
    email_rows: list[dict[str, Any]] = []
    for m in messages:
        ids = (m.recipient.person_id, m.recipient.other_id)
        known = {i: people[(m.tenant, i)] for i in ids if (m.tenant, i) in people}
        person = known.get(m.recipient.person_id)
        if person is not None and person.erased and not m.critical:
            continue
        allowed = prefs[(m.tenant, m.recipient.person_id)]
        program_id = getattr(m.data, "program_id", None)
        names = {program_id: programs[key]} if (key := (m.tenant, program_id)) in programs else {}
        context = context_for(
            session, m.data, m.recipient, known, m.link, names, template=m.template
        ) | (m.extra or {})
        locale = person.locale if person is not None else "en"
        if m.critical or allowed.allows(m.category, "inbox"):
            rendered = templates.render(m.template, locale, context)
            inbox_rows.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": m.tenant,
                    "person_id": m.recipient.person_id,
                    "source_event_id": m.source_id,
                    "kind": m.template,
                    "category": m.category,
                    "title": rendered.subject,
                    "body": rendered.text[:BODY_LIMIT],
                    "link": m.link,
                    "created_at": now,
                }
            )
        if m.critical or allowed.allows(m.category, "email"):
            email_rows.append(_email_row(m, person, locale, context, allowed, now))
    conn = await session.connection()
    if inbox_rows:
        inserted = await conn.execute(_INBOX, inbox_rows)
        if woken := {str(p) for p in inserted.scalars()}:
            # Delivered to listeners on commit only: a rolled-back item never wakes a stream.
            await conn.execute(_NOTIFY, {"channel": INBOX_CHANNEL, "people": list(woken)})
    if email_rows:
        await conn.execute(_EMAIL, email_rows)


def _email_row(
    m: Message,
    person: directory.PersonView | None,
    locale: str,
    context: dict[str, Any],
    prefs: preferences.Effective,
    now: datetime,
) -> dict[str, Any]:
    """The queued email, timed by the person's quiet hours and digest choice (not a critical
    one, nor a reminder: it is about a time, so it goes on time or not at all); `m.digest` puts
    it in the next daily digest whatever the person chose."""
    zone = person.time_zone if person is not None else "UTC"
    status, due, delayed_for = "queued", now, None
    if not m.critical and m.category != "reminders":
        if prefs.digest == "daily" or m.digest:
            status, due = "digest", prefs.next_digest(now, zone)
        elif (quiet_end := prefs.quiet_until(now, zone)) is not None:
            due, delayed_for = quiet_end, "quiet_hours"
    return {
        "id": uuid.uuid4(),
        "organization_id": m.tenant,
        "person_id": m.recipient.person_id,
        "source_id": m.source_id,
        "template": m.template,
        "category": m.category,
        "critical": m.critical,
        "locale": locale,
        "context": context,
        "to_address": person.email if person is not None else None,
        "status": status,
        "delayed_for": delayed_for,
        "due_at": due,
        "not_after": m.not_after,
        "attempts": 0,
        "created_at": now,
    }


async def notify(session: AsyncSession, **message: Any) -> None:
    """Send one message (the fields of `Message`) to one person."""
    await deliver(session, [Message(**message)])


async def dispatch(session: AsyncSession, events: Sequence[Event]) -> None:
    """Every message the catalog says these events deserve."""
    await deliver(
        session,
        [
            Message(
                tenant=event.tenant,
                recipient=recipient,
                source_id=event.id,
                template=rule.template,
                category=rule.category,
                data=event.data,
                link=rule.link(event.data),
                critical=rule.critical,
            )
            for event in events
            for rule in RULES.get(event.type, ())
            for recipient in rule.recipients(event.data)
        ],
    )
