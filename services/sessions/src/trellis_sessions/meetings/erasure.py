"""Erasure in the meetings area: blank the free text the person wrote, drop their calendar feed.

Times, attendance and statuses stay, so reports keep counting meetings held.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings.models import CalendarFeed, Meeting, MeetingNote


async def erase_person(
    session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    in_org = col(Meeting.organization_id) == organization_id
    await session.execute(
        sa.update(MeetingNote)
        .where(
            col(MeetingNote.organization_id) == organization_id,
            col(MeetingNote.author_id) == person_id,
        )
        .values(body=None, updated_at=sa.func.now())
    )
    await session.execute(
        sa.update(Meeting)
        .where(in_org, col(Meeting.shared_notes_by) == person_id)
        .values(shared_notes=None)
    )
    # The agenda and the place were written by whoever scheduled the meeting.
    await session.execute(
        sa.update(Meeting)
        .where(in_org, col(Meeting.created_by) == person_id)
        .values(agenda=None, location=None)
    )
    await session.execute(
        sa.update(Meeting)
        .where(in_org, col(Meeting.cancelled_by) == person_id)
        .values(cancel_reason=None)
    )
    await session.execute(
        sa.delete(CalendarFeed).where(
            col(CalendarFeed.organization_id) == organization_id,
            col(CalendarFeed.person_id) == person_id,
        )
    )
