"""Erasure in the plan: blank what the erased person said in their own voice.

Blanked: their side's expectations in each agreement they are party to, and the notes they wrote
when recording progress. Those are one person's words about themself or the other.

Kept: goals, milestones, the agreement's goals, cadence, channels, boundaries and
confidentiality. They are the pair's joint plan: either participant may write or edit any of
them (so who created a goal does not tell who wrote its words as they stand), the other
participant keeps the record of the work they did together, and program reports count
goals and milestones reached. Dates, percentages and signatures stay as numbers and facts.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.mentorships.models import Mentorship
from trellis_sessions.plan.models import Agreement, GoalProgress


async def erase_person(
    session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> None:
    for side in ("mentor", "mentee"):
        theirs = sa.select(Mentorship.id).where(
            Mentorship.organization_id == organization_id,
            getattr(Mentorship, f"{side}_id") == person_id,
        )
        await session.execute(
            sa.update(Agreement)
            .where(
                Agreement.organization_id == organization_id,
                col(Agreement.mentorship_id).in_(theirs),
            )
            .values({f"{side}_expectations": None})
        )
    await session.execute(
        sa.update(GoalProgress)
        .where(
            GoalProgress.organization_id == organization_id,
            GoalProgress.author_id == person_id,
        )
        .values(note=None)
    )
