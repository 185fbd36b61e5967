"""Meetings as a person sees them: UTC instants, plus each participant's own wall-clock times,
plus the viewer's private note (and nobody else's)."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.meetings import recurrence
from trellis_sessions.meetings.models import LocalTime, Meeting, MeetingNote, MeetingPublic
from trellis_sessions.mentorships.models import Mentorship


def zone_or(name: str | None, fallback: str) -> ZoneInfo:
    """A person's zone as the directory has it; the meeting's own while unknown or unusable."""
    try:
        return recurrence.zone(name or fallback)
    except recurrence.ScheduleError:
        return recurrence.zone(fallback)


async def mentorships_of(
    session: AsyncSession, meetings: list[Meeting]
) -> dict[uuid.UUID, Mentorship]:
    ids = {m.mentorship_id for m in meetings}
    if not ids:
        return {}
    found = await session.exec(
        select(Mentorship).where(
            Mentorship.organization_id == meetings[0].organization_id,
            col(Mentorship.id).in_(ids),
        )
    )
    return {m.id: m for m in found.all()}


async def present(
    session: AsyncSession,
    meetings: list[Meeting],
    *,
    viewer_id: uuid.UUID | None,
    mentorships: dict[uuid.UUID, Mentorship] | None = None,
) -> list[MeetingPublic]:
    if not meetings:
        return []
    org = meetings[0].organization_id
    mentorships = mentorships or await mentorships_of(session, meetings)
    people_ids = [p for m in mentorships.values() for p in (m.mentor_id, m.mentee_id)]
    known = await directory.people(session, org, people_ids)
    notes: dict[uuid.UUID, str | None] = {}
    if viewer_id is not None:
        found = await session.exec(
            select(MeetingNote).where(
                MeetingNote.organization_id == org,
                MeetingNote.author_id == viewer_id,
                col(MeetingNote.meeting_id).in_([m.id for m in meetings]),
            )
        )
        notes = {n.meeting_id: n.body for n in found.all()}
    shown = []
    for meeting in meetings:
        mentorship = mentorships[meeting.mentorship_id]
        local_times = []
        for person_id, side in ((mentorship.mentor_id, "mentor"), (mentorship.mentee_id, "mentee")):
            person = known.get(person_id)
            tz = zone_or(person.time_zone if person else None, meeting.time_zone)
            local_times.append(
                LocalTime(
                    person_id=person_id,
                    side=side,
                    time_zone=tz.key,
                    start=meeting.starts_at.astimezone(tz),
                    end=meeting.ends_at.astimezone(tz),
                )
            )
        public = MeetingPublic.model_validate(meeting)
        shown.append(
            public.model_copy(
                update={
                    "local_start": meeting.starts_at.astimezone(zone_or(None, meeting.time_zone)),
                    "local_times": local_times,
                    "private_note": notes.get(meeting.id),
                }
            )
        )
    return shown
