"""From an event to messages: who hears about it (the catalog), in which words (templates, in
their language and time zone), on which channels (their preferences).

Runs inside the consumer's transaction, so the inbox items and queued emails of an event are
committed together with the inbox-of-events row: a redelivered event adds nothing, and the
unique keys (person, source, template) make a duplicate impossible even across replicas.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory, templates
from trellis_notifications.catalog import RULES, Recipient, Rule
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


async def context_for(
    session: AsyncSession,
    tenant: uuid.UUID,
    data: Any,
    recipient: Recipient,
    people: dict[uuid.UUID, directory.PersonView],
    link: str | None,
    programs: dict[uuid.UUID, str] | None = None,
    *,
    template: str,
) -> dict[str, Any]:
    """Everything a template may use; JSON only, since emails are rendered when sent.
    `programs` (names by id), when the caller already has them, saves a query per message;
    `template` is the one the context is for: its times read in the language it is written in."""
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
        "program": (
            programs.get(program_id, "your program")
            if programs is not None
            else await directory.program_name(session, tenant, program_id)
        )
        if program_id
        else None,
        "time_zone": zone,
        "when": local_time(getattr(data, "starts_at", None), zone, locale),
        "previous_when": local_time(getattr(data, "previous_starts_at", None), zone, locale),
        "expires": local_time(getattr(data, "expires_at", None), zone, locale),
        "link": f"{base}{link}" if link else None,
        "path": link,
    }


async def add_to_inbox(
    session: AsyncSession,
    *,
    tenant: uuid.UUID,
    person_id: uuid.UUID,
    source_id: uuid.UUID,
    kind: str,
    category: str,
    rendered: templates.Rendered,
    link: str | None,
) -> bool:
    """Put the message in the person's inbox (once per source) and wake their open streams."""
    inserted = await session.scalar(
        insert(InboxItem.__table__)
        .values(
            id=uuid.uuid4(),
            organization_id=tenant,
            person_id=person_id,
            source_event_id=source_id,
            kind=kind,
            category=category,
            title=rendered.subject,
            body=rendered.text[:BODY_LIMIT],
            link=link,
            created_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(constraint="uq_inbox_item_person_event")
        .returning(InboxItem.__table__.c.id)
    )
    if inserted is not None:
        # Delivered to listeners on commit only: a rolled-back item never wakes a stream.
        await session.execute(sa.select(sa.func.pg_notify(INBOX_CHANNEL, str(person_id))))
    return inserted is not None


async def queue_email(
    session: AsyncSession,
    *,
    tenant: uuid.UUID,
    person: directory.PersonView | None,
    person_id: uuid.UUID,
    source_id: uuid.UUID,
    template: str,
    category: str,
    critical: bool,
    context: dict[str, Any],
    prefs: preferences.Effective,
    now: datetime,
    digest: bool = False,
) -> None:
    """Queue the email, timed by the person's quiet hours and digest choice (not for critical);
    `digest` puts it in the next daily digest whatever the person chose."""
    zone = person.time_zone if person is not None else "UTC"
    status, due, delayed_for = "queued", now, None
    if not critical and category != "reminders":
        # A reminder is about a time: it goes out on time or not at all, never in a digest.
        if prefs.digest == "daily" or digest:
            status, due = "digest", prefs.next_digest(now, zone)
        elif (quiet_end := prefs.quiet_until(now, zone)) is not None:
            due, delayed_for = quiet_end, "quiet_hours"
    await session.execute(
        insert(EmailDelivery.__table__)
        .values(
            id=uuid.uuid4(),
            organization_id=tenant,
            person_id=person_id,
            source_id=source_id,
            template=template,
            category=category,
            critical=critical,
            locale=person.locale if person is not None else "en",
            context=context,
            to_address=person.email if person is not None else None,
            status=status,
            delayed_for=delayed_for,
            due_at=due,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_email_delivery_source")
    )


async def notify(
    session: AsyncSession,
    *,
    tenant: uuid.UUID,
    recipient: Recipient,
    source_id: uuid.UUID,
    template: str,
    category: str,
    data: Any,
    link: str | None = None,
    critical: bool = False,
    extra: dict[str, Any] | None = None,
    digest: bool = False,
) -> None:
    """Send one message to one person on the channels their preferences allow (`digest`: by
    email only in their daily digest, e.g. program admins' summaries)."""
    ids = [recipient.person_id] + ([recipient.other_id] if recipient.other_id else [])
    people = await directory.people(session, tenant, ids)
    person = people.get(recipient.person_id)
    if person is not None and person.erased and not critical:
        return
    prefs = await preferences.effective(session, tenant, recipient.person_id)
    context = await context_for(
        session, tenant, data, recipient, people, link, template=template
    ) | (extra or {})
    if critical or prefs.allows(category, "inbox"):
        rendered = templates.render(template, person.locale if person else "en", context)
        await add_to_inbox(
            session,
            tenant=tenant,
            person_id=recipient.person_id,
            source_id=source_id,
            kind=template,
            category=category,
            rendered=rendered,
            link=link,
        )
    if critical or prefs.allows(category, "email"):
        await queue_email(
            session,
            tenant=tenant,
            person=person,
            person_id=recipient.person_id,
            source_id=source_id,
            template=template,
            category=category,
            critical=critical,
            context=context,
            prefs=prefs,
            now=datetime.now(UTC),
            digest=digest,
        )


async def dispatch(session: AsyncSession, event: Event) -> None:
    """Every message the catalog says this event deserves."""
    for rule in RULES.get(event.type, ()):
        await _apply(session, event, rule)


async def _apply(session: AsyncSession, event: Event, rule: Rule) -> None:
    for recipient in rule.recipients(event.data):
        await notify(
            session,
            tenant=event.tenant,
            recipient=recipient,
            source_id=event.id,
            template=rule.template,
            category=rule.category,
            data=event.data,
            link=rule.link(event.data),
            critical=rule.critical,
        )
