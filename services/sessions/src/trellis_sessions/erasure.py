"""Erasure: when profiles erases a person, sessions forgets what that person wrote.

Their open mentorships end (the other side is told), their name is dropped from the directory,
and every free text they authored is blanked. Numbers (ratings, dates) stay: program reports
keep counting, without anything that identifies the person.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.meetings import erasure as meetings
from trellis_sessions.mentorships import service as mentorships
from trellis_sessions.mentorships.models import Evaluation
from trellis_sessions.plan import erasure as plan
from trellis_sessions.pulse import erasure as pulse


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    await directory.erase_person(session, tenant, person_id)
    await mentorships.end_for_erased_person(session, tenant, person_id)
    await session.execute(
        sa.update(Evaluation)
        .where(Evaluation.organization_id == tenant, Evaluation.author_id == person_id)
        .values(comments=None)
    )
    await meetings.erase_person(session, tenant, person_id)
    await plan.erase_person(session, tenant, person_id)
    await pulse.erase_person(session, tenant, person_id)
