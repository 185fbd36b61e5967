"""Reminders delivered a batch at a time: what `dispatch.notify` decides for one message, decided
for a whole batch in a handful of statements. Meetings start on the hour, so their reminders come
due together (thousands in the same second), and one round trip per lookup and per row would
make the last of them late.

The same decisions as `dispatch.notify` (tests compare the two row by row): an erased person gets
nothing; each channel follows the person's switches for the category; the context is
`dispatch.context_for`'s; and, reminders being about a time, their email is queued at once,
never held for quiet hours nor put in a digest. One thing more: a reminder's email expires at
the meeting's start (`not_after`), so an SMTP outage cannot make it arrive too late to be true.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import dispatch, templates
from trellis_notifications.catalog import Recipient
from trellis_notifications.deliveries import EmailDelivery
from trellis_notifications.directory import PersonView, ProgramView
from trellis_notifications.models import InboxItem
from trellis_notifications.preferences.models import Preference
from trellis_notifications.preferences.service import Effective, _effective
from trellis_notifications.reminders.models import ReminderFacts

TEMPLATE, CATEGORY = "meeting_reminder", "reminders"
_INBOX = (
    insert(InboxItem.__table__)
    .on_conflict_do_nothing(constraint="uq_inbox_item_person_event")
    .returning(InboxItem.__table__.c.person_id)
)
_EMAIL = insert(EmailDelivery.__table__).on_conflict_do_nothing(
    constraint="uq_email_delivery_source"
)
_NOTIFY = sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:people AS text[])) AS p")


@dataclass(frozen=True)
class Message:
    tenant: uuid.UUID
    recipient: Recipient
    source_id: uuid.UUID
    data: ReminderFacts
    link: str
    extra: dict[str, Any]


async def deliver(session: AsyncSession, messages: Sequence[Message]) -> None:
    """Each message to its person's inbox and email queue, as their preferences allow."""
    if not messages:
        return
    now = datetime.now(UTC)
    people = await _people(session, _pairs(messages))
    prefs = await _preferences(session, {(m.tenant, m.recipient.person_id) for m in messages})
    programs = await _programs(session, {(m.tenant, m.data.program_id) for m in messages})
    inbox_rows, email_rows = [], []
    for m in messages:
        ids = [m.recipient.person_id, m.recipient.other_id]
        known = {i: people[(m.tenant, i)] for i in ids if (m.tenant, i) in people}
        person = known.get(m.recipient.person_id)
        if person is not None and person.erased:
            continue
        allowed = prefs.get((m.tenant, m.recipient.person_id), Effective())
        program = programs.get((m.tenant, m.data.program_id))
        names = {m.data.program_id: program} if program is not None else {}
        context = (
            await dispatch.context_for(
                session,
                m.tenant,
                m.data,
                m.recipient,
                known,
                m.link,
                programs=names,
                template=TEMPLATE,
            )
            | m.extra
        )
        locale = person.locale if person is not None else "en"
        if allowed.allows(CATEGORY, "inbox"):
            rendered = templates.render(TEMPLATE, locale, context)
            inbox_rows.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": m.tenant,
                    "person_id": m.recipient.person_id,
                    "source_event_id": m.source_id,
                    "kind": TEMPLATE,
                    "category": CATEGORY,
                    "title": rendered.subject,
                    "body": rendered.text[: dispatch.BODY_LIMIT],
                    "link": m.link,
                    "created_at": now,
                }
            )
        if allowed.allows(CATEGORY, "email"):
            email_rows.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": m.tenant,
                    "person_id": m.recipient.person_id,
                    "source_id": m.source_id,
                    "template": TEMPLATE,
                    "category": CATEGORY,
                    "critical": False,
                    "locale": locale,
                    "context": context,
                    "to_address": person.email if person is not None else None,
                    "status": "queued",
                    "delayed_for": None,
                    "due_at": now,
                    # Retried while SMTP is down, but never after the meeting has begun.
                    "not_after": m.data.starts_at,
                    "attempts": 0,
                    "created_at": now,
                }
            )
    # One statement per table, sent as an executemany: compiled once, its rows in a few round trips.
    conn = await session.connection()
    if inbox_rows:
        inserted = await conn.execute(_INBOX, inbox_rows)
        woken = {str(p) for p in inserted.scalars()}
        if woken:
            # Delivered to listeners on commit only: a rolled-back batch wakes nobody.
            await conn.execute(_NOTIFY, {"channel": dispatch.INBOX_CHANNEL, "people": list(woken)})
    if email_rows:
        await conn.execute(_EMAIL, email_rows)


def _pairs(messages: Iterable[Message]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    return {
        (m.tenant, i)
        for m in messages
        for i in (m.recipient.person_id, m.recipient.other_id)
        if i is not None
    }


async def _people(
    session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], PersonView]:
    found = await session.exec(
        select(PersonView).where(sa.tuple_(PersonView.organization_id, PersonView.id).in_(pairs))
    )
    return {(p.organization_id, p.id): p for p in found.all()}


async def _preferences(
    session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], Effective]:
    found = await session.exec(
        select(Preference).where(
            sa.tuple_(Preference.organization_id, Preference.person_id).in_(pairs)
        )
    )
    return {(p.organization_id, p.person_id): _effective(p) for p in found.all()}


async def _programs(
    session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    found = await session.exec(
        select(ProgramView).where(sa.tuple_(ProgramView.organization_id, ProgramView.id).in_(pairs))
    )
    return {(p.organization_id, p.id): p.name for p in found.all()}
