"""Meeting reminders follow the meeting: planned when it is scheduled (one per participant and
lead time of theirs), moved when it moves, dropped when it is cancelled or has taken place.

The person's lead times are read when the meeting is scheduled or moved; changing one's
preferences later leaves reminders already planned as they are until the meeting moves again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.preferences import service as preferences
from trellis_notifications.reminders.models import MeetingView, Reminder
from trellis_shared.contracts import sessions as s

_ARMING = (s.MeetingScheduled.event_type, s.MeetingRescheduled.event_type)
_CLOSING = {
    s.MeetingCancelled.event_type: ("cancelled", "the meeting was cancelled"),
    s.MeetingCompleted.event_type: ("completed", "the meeting took place"),
}
EVENT_TYPES = frozenset(_ARMING) | frozenset(_CLOSING)
MeetingEvent = s.MeetingScheduled | s.MeetingRescheduled | s.MeetingCancelled | s.MeetingCompleted


async def track(
    session: AsyncSession, event_type: str, tenant: uuid.UUID, data: MeetingEvent
) -> None:
    """Bring the meeting's reminders in line with what the event says about the meeting."""
    now = datetime.now(UTC)
    known = await session.scalar(
        select(MeetingView).where(MeetingView.id == data.meeting_id).with_for_update()
    )
    if known is not None and known.organization_id != tenant:
        return
    if known is not None and _stale(event_type, data.sequence, known):
        return
    status = _CLOSING[event_type][0] if event_type in _CLOSING else "scheduled"
    await _record(session, tenant, data, status)
    if event_type in _CLOSING:
        await _cancel(session, tenant, data.meeting_id, _CLOSING[event_type][1], now)
    else:
        await _arm(session, tenant, data, now)


def _stale(event_type: str, sequence: int, known: MeetingView) -> bool:
    # Scheduling and moving bump the sequence, so an equal one is a copy already applied;
    # completing keeps it, so a completion at the known sequence is news.
    if event_type in _ARMING:
        return sequence <= known.sequence
    return sequence < known.sequence


async def _record(
    session: AsyncSession, tenant: uuid.UUID, data: MeetingEvent, status: str
) -> None:
    values = {
        "organization_id": tenant,
        "mentorship_id": data.mentorship_id,
        "program_id": data.program_id,
        "mentor_id": data.mentor_id,
        "mentee_id": data.mentee_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
        "time_zone": data.time_zone,
        "mode": data.mode,
        "location": data.location,
        "sequence": data.sequence,
        "status": status,
    }
    statement = insert(MeetingView.__table__).values(id=data.meeting_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_=values | {"updated_at": sa.func.now()}
        )
    )


async def _cancel(
    session: AsyncSession, tenant: uuid.UUID, meeting_id: uuid.UUID, reason: str, now: datetime
) -> None:
    await session.execute(
        sa.update(Reminder)
        .where(
            Reminder.organization_id == tenant,
            Reminder.meeting_id == meeting_id,
            Reminder.status == "scheduled",
        )
        .values(status="cancelled", reason=reason, updated_at=now)
    )


async def _arm(session: AsyncSession, tenant: uuid.UUID, data: MeetingEvent, now: datetime) -> None:
    """One reminder per participant and lead time, due `lead` before the (new) start."""
    existing = await session.exec(
        select(Reminder)
        .where(Reminder.organization_id == tenant, Reminder.meeting_id == data.meeting_id)
        .with_for_update()
    )
    planned = {(r.person_id, r.lead_minutes): r for r in existing.all()}
    pairs = ((data.mentor_id, "mentor", data.mentee_id), (data.mentee_id, "mentee", data.mentor_id))
    for person_id, role, other_id in pairs:
        leads = (await preferences.effective(session, tenant, person_id)).reminder_leads
        for lead in leads:
            due = data.starts_at - timedelta(minutes=lead)
            row = planned.pop((person_id, lead), None)
            if row is None:
                if due > now:  # a lead already past when the meeting is planned is not reminded
                    session.add(
                        Reminder(
                            organization_id=tenant,
                            person_id=person_id,
                            other_id=other_id,
                            role=role,
                            meeting_id=data.meeting_id,
                            lead_minutes=lead,
                            starts_at=data.starts_at,
                            sequence=data.sequence,
                            due_at=due,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                continue
            _move(row, data, due, now)
            session.add(row)
    for row in planned.values():
        if row.status == "scheduled":
            row.status, row.reason, row.updated_at = "cancelled", "lead time no longer wanted", now
            session.add(row)
    await session.flush()


def _move(row: Reminder, data: MeetingEvent, due: datetime, now: datetime) -> None:
    moved = row.starts_at != data.starts_at
    row.sequence, row.updated_at = data.sequence, now
    if row.status == "scheduled":
        row.starts_at, row.due_at = data.starts_at, due
        if due <= now:
            row.status, row.reason = "skipped", "the meeting moved closer than this lead time"
    elif moved and due > now:
        # Already sent (or dropped) for the old time: the new time deserves its own reminder,
        # under a new source so the inbox and email keys let it through.
        row.starts_at, row.due_at, row.status, row.reason = data.starts_at, due, "scheduled", None
        row.source_id, row.sent_at, row.late_by, row.attempts = uuid.uuid4(), None, None, 0


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    await session.execute(
        sa.delete(Reminder).where(
            Reminder.organization_id == tenant, col(Reminder.person_id) == person_id
        )
    )
