"""Erasure in the pulse: the erased person's check-in blockers and notes and their feedback
comments are blanked. Ratings, sides, visibility and dates stay, so program reports and the
mentorship's health keep counting without anything that says who the person was."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.pulse.models import Checkin, Feedback


async def erase_person(
    session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    await session.execute(
        sa.update(Checkin)
        .where(Checkin.organization_id == organization_id, Checkin.author_id == person_id)
        .values(blockers=None, note=None)
    )
    await session.execute(
        sa.update(Feedback)
        .where(Feedback.organization_id == organization_id, Feedback.author_id == person_id)
        .values(comments=None)
    )
