"""Meetings of a mentorship: scheduled (once or as a series) without double-booking anyone,
rescheduled, cancelled and completed; each change announced in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.events import identity, publish
from trellis_sessions.meetings import conflicts, recurrence
from trellis_sessions.meetings.models import (
    Cancel,
    Complete,
    Meeting,
    MeetingCreate,
    MeetingNote,
    MeetingSeries,
    Reschedule,
)
from trellis_sessions.mentorships.access import require_status
from trellis_sessions.mentorships.models import Mentorship
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import sessions as contracts
from trellis_shared.problems import Problem


def invalid(field: str, message: str) -> Problem:
    return Problem(
        422, f"Invalid {field}: {message}", errors=[{"field": field, "message": message}]
    )


def _fields(meeting: Meeting, mentorship: Mentorship) -> dict[str, Any]:
    return identity(mentorship) | {
        "meeting_id": meeting.id,
        "series_id": meeting.series_id,
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "time_zone": meeting.time_zone,
        "mode": meeting.mode,
        "location": meeting.location,
        "sequence": meeting.sequence,
    }


async def _plan(
    *, start: datetime, time_zone: str, duration: int, rule: str | None
) -> recurrence.Plan:
    try:
        # In a thread: an adversarial RRULE can make dateutil iterate for a fraction of a second.
        return await asyncio.to_thread(
            lambda: recurrence.plan(
                start=start,
                time_zone=time_zone,
                duration_minutes=duration,
                recurrence=rule,
                now=datetime.now(UTC),
            )
        )
    except recurrence.ScheduleError as exc:
        raise invalid(f"body.{exc.field}", exc.message) from exc


async def _zone_for(session: AsyncSession, org: uuid.UUID, person_id: uuid.UUID | None) -> str:
    """The zone a request without `time_zone` is planned in: the caller's own."""
    known = await directory.people(session, org, [person_id]) if person_id else {}
    if person_id not in known:
        raise invalid("body.time_zone", "required (your time zone is not known yet)")
    return known[person_id].time_zone


async def schedule(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    data: MeetingCreate,
    author_id: uuid.UUID | None,
    actor: str,
) -> tuple[MeetingSeries | None, list[Meeting]]:
    """Schedule one meeting, or every occurrence of a series, on an active mentorship."""
    require_status(mentorship, "active", doing="schedule a meeting")
    org = mentorship.organization_id
    plan = await _plan(
        start=data.start,
        time_zone=data.time_zone or await _zone_for(session, org, author_id),
        duration=data.duration_minutes or mentorship.meeting_minutes,
        rule=data.recurrence.strip() if data.recurrence else None,
    )
    await conflicts.refuse(
        session, mentorship=mentorship, slots=[(s.starts_at, s.ends_at) for s in plan.slots]
    )
    series = None
    if plan.rrule is not None:
        series = MeetingSeries(
            organization_id=org,
            mentorship_id=mentorship.id,
            rrule=plan.rrule,
            time_zone=plan.time_zone,
            local_start=plan.local_start,
            duration_minutes=plan.duration_minutes,
            created_by=author_id,
        )
        session.add(series)
        await session.flush()  # its row first: the meetings refer to it
    now = datetime.now(UTC)
    meetings = [
        Meeting(
            organization_id=org,
            mentorship_id=mentorship.id,
            series_id=series.id if series else None,
            occurrence=slot.occurrence,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            time_zone=plan.time_zone,
            duration_minutes=plan.duration_minutes,
            mode=data.mode,
            location=data.location,
            agenda=data.agenda,
            created_by=author_id,
            created_at=now,
        )
        for slot in plan.slots
    ]
    session.add_all(meetings)
    await session.flush()
    for meeting in meetings:
        await publish(
            session,
            contracts.MeetingScheduled(
                **_fields(meeting, mentorship), scheduled_by=actor, scheduled_at=now
            ),
            tenant=org,
        )
    return series, meetings


def _require_scheduled(meeting: Meeting, doing: str) -> None:
    if meeting.status != "scheduled":
        raise Problem(
            409,
            f"Cannot {doing}: the meeting is {meeting.status}",
            slug="meeting-state",
            status_now=meeting.status,
        )


def _changed(session: AsyncSession, meeting: Meeting, *, sequence: bool) -> None:
    meeting.version += 1
    meeting.sequence += 1 if sequence else 0
    session.add(meeting)


async def reschedule(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    meeting: Meeting,
    data: Reschedule,
    if_match: str | None,
    actor: str,
) -> Meeting:
    """Move one occurrence; the rest of its series stays where it was."""
    if if_match:
        require_if_match(if_match, meeting.version)
    require_status(mentorship, "active", doing="reschedule a meeting")
    _require_scheduled(meeting, "reschedule it")
    plan = await _plan(
        start=data.start,
        time_zone=data.time_zone or meeting.time_zone,
        duration=data.duration_minutes or meeting.duration_minutes,
        rule=None,
    )
    [slot] = plan.slots
    await conflicts.refuse(
        session, mentorship=mentorship, slots=[(slot.starts_at, slot.ends_at)], excluding=meeting.id
    )
    previous = meeting.starts_at
    meeting.starts_at, meeting.ends_at = slot.starts_at, slot.ends_at
    meeting.time_zone, meeting.duration_minutes = plan.time_zone, plan.duration_minutes
    _changed(session, meeting, sequence=True)
    await publish(
        session,
        contracts.MeetingRescheduled(
            **_fields(meeting, mentorship),
            previous_starts_at=previous,
            rescheduled_by=actor,
            rescheduled_at=datetime.now(UTC),
        ),
        tenant=mentorship.organization_id,
    )
    return meeting


async def cancel(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    meeting: Meeting,
    data: Cancel,
    if_match: str | None,
    author_id: uuid.UUID | None,
    actor: str,
) -> list[Meeting]:
    """Cancel this occurrence, or it and the later scheduled ones of its series."""
    if if_match:
        require_if_match(if_match, meeting.version)
    _require_scheduled(meeting, "cancel it")
    targets = [meeting]
    if data.scope == "following" and meeting.series_id is not None:
        later = await session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == mentorship.organization_id,
                Meeting.series_id == meeting.series_id,
                col(Meeting.occurrence) > meeting.occurrence,
                Meeting.status == "scheduled",
            )
            .order_by(col(Meeting.occurrence))
            .with_for_update()
        )
        targets += list(later.all())
    now = datetime.now(UTC)
    for target in targets:
        target.status, target.cancelled_at = "cancelled", now
        target.cancel_reason, target.cancelled_by = data.reason, author_id
        _changed(session, target, sequence=True)
        await publish(
            session,
            contracts.MeetingCancelled(
                **_fields(target, mentorship),
                reason=data.reason,
                cancelled_by=actor,
                cancelled_at=now,
            ),
            tenant=mentorship.organization_id,
        )
    return targets


async def cancel_upcoming(
    *, session: AsyncSession, mentorship: Mentorship, reason: str, actor: str = "system"
) -> int:
    """Cancel the mentorship's meetings still ahead (it ended or completed): calendars and
    reminders are told, and nobody keeps a slot for a mentorship that is over."""
    upcoming = (
        await session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == mentorship.organization_id,
                Meeting.mentorship_id == mentorship.id,
                Meeting.status == "scheduled",
                col(Meeting.starts_at) > datetime.now(UTC),
            )
            .order_by(col(Meeting.starts_at))
            .with_for_update()
        )
    ).all()
    now = datetime.now(UTC)
    for target in upcoming:
        target.status, target.cancelled_at, target.cancel_reason = "cancelled", now, reason
        _changed(session, target, sequence=True)
        await publish(
            session,
            contracts.MeetingCancelled(
                **_fields(target, mentorship), reason=reason, cancelled_by=actor, cancelled_at=now
            ),
            tenant=mentorship.organization_id,
        )
    return len(upcoming)


async def complete(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    meeting: Meeting,
    data: Complete,
    if_match: str | None,
    author_id: uuid.UUID | None,
    actor: str,
) -> Meeting:
    """Record that the meeting took place: who was there, shared notes, the caller's own note."""
    if if_match:
        require_if_match(if_match, meeting.version)
    participants = {mentorship.mentor_id, mentorship.mentee_id}
    strangers = [str(p) for p in data.attended if p not in participants]
    if strangers:
        raise invalid("body.attended", "not participants: " + ", ".join(strangers))
    _require_scheduled(meeting, "complete it")
    now = datetime.now(UTC)
    if meeting.starts_at > now:
        raise Problem(409, "The meeting has not started yet", slug="meeting-not-started")
    meeting.status, meeting.completed_at = "completed", now
    meeting.attended = sorted({str(p) for p in data.attended})
    if data.shared_notes is not None:
        meeting.shared_notes, meeting.shared_notes_by = data.shared_notes, author_id
    _changed(session, meeting, sequence=False)
    if data.private_note is not None and author_id is not None:
        await write_note(
            session=session, meeting=meeting, author_id=author_id, body=data.private_note
        )
    await publish(
        session,
        contracts.MeetingCompleted(
            **_fields(meeting, mentorship),
            attended=[uuid.UUID(p) for p in meeting.attended],
            completed_at=now,
        ),
        tenant=mentorship.organization_id,
    )
    return meeting


async def write_note(
    *, session: AsyncSession, meeting: Meeting, author_id: uuid.UUID, body: str
) -> MeetingNote:
    """Write or replace the author's private note on the meeting."""
    statement = insert(MeetingNote.__table__).values(
        meeting_id=meeting.id,
        author_id=author_id,
        organization_id=meeting.organization_id,
        body=body,
        updated_at=sa.func.now(),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["meeting_id", "author_id"],
            set_={"body": statement.excluded.body, "updated_at": sa.func.now()},
        )
    )
    note = await session.get(MeetingNote, (meeting.id, author_id), populate_existing=True)
    assert note is not None
    return note
