"""No person is in two Trellis meetings at once, whichever of their mentorships each belongs to.

Checking then inserting is a race: two requests for the same slot could both see it free. So
each request first takes a transaction-scoped advisory lock per participant, always in the same
order (no deadlock), and checks only then; the loser waits for the winner's commit and sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings.models import Meeting
from trellis_sessions.mentorships.models import Mentorship
from trellis_shared.problems import Problem

# The first key of the two-key advisory lock space: keeps these locks apart from other users of
# advisory locks in the same database (the second key is the person).
_LOCK_SPACE = 0x7E55_0005
# A scheduled meeting of a mentorship that has completed or ended will not take place.
_LIVE = ("active", "paused")


def _person_key(person_id: uuid.UUID) -> int:
    return int.from_bytes(person_id.bytes[:4], "big", signed=True)


async def lock_people(session: AsyncSession, people: Iterable[uuid.UUID]) -> None:
    """Serialize schedule changes of these people until the transaction ends."""
    for key in sorted({_person_key(p) for p in people}):
        await session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(_LOCK_SPACE, key)),
        )


async def find(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    people: Iterable[uuid.UUID],
    slots: list[tuple[datetime, datetime]],
    excluding: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Scheduled meetings of any of `people` that overlap any of `slots`, earliest first."""
    people = list(people)
    query = (
        select(Meeting.id)
        .join(Mentorship, col(Mentorship.id) == Meeting.mentorship_id)
        .where(
            Meeting.organization_id == organization_id,
            Mentorship.organization_id == organization_id,
            Meeting.status == "scheduled",
            col(Mentorship.status).in_(_LIVE),
            sa.or_(col(Mentorship.mentor_id).in_(people), col(Mentorship.mentee_id).in_(people)),
            sa.or_(
                *(
                    sa.and_(col(Meeting.starts_at) < end, col(Meeting.ends_at) > start)
                    for start, end in slots
                )
            ),
        )
        .order_by(col(Meeting.starts_at), col(Meeting.id))
    )
    if excluding is not None:
        query = query.where(Meeting.id != excluding)
    return list((await session.exec(query)).all())


async def refuse(
    session: AsyncSession,
    *,
    mentorship: Mentorship,
    slots: list[tuple[datetime, datetime]],
    excluding: uuid.UUID | None = None,
) -> None:
    """Lock both participants, then answer 409 if either is already busy in one of `slots`."""
    people = (mentorship.mentor_id, mentorship.mentee_id)
    await lock_people(session, people)
    busy = await find(
        session,
        organization_id=mentorship.organization_id,
        people=people,
        slots=slots,
        excluding=excluding,
    )
    if busy:
        raise Problem(
            409,
            "A participant already has a meeting then: " + ", ".join(str(b) for b in busy),
            slug="meeting-conflict",
            conflicts=[str(b) for b in busy],
        )
