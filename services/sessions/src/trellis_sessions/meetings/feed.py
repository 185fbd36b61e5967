"""A person's calendar feed: a secret URL a calendar app polls without a bearer token.

The token is the only credential, so it is long and random, and only its SHA-256 is stored: a
database leak does not reveal working URLs. Creating a feed again rotates the token (the old URL
stops working); deleting it revokes it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.meetings.models import CalendarFeed, Meeting
from trellis_sessions.mentorships.models import Mentorship

# A calendar app re-reads the feed every few hours; years of history are not what it needs.
FEED_LIMIT = 2000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_of(token: str) -> str:
    return f"/sessions/calendar/{token}.ics"


async def rotate(session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID) -> str:
    """A new token for the person's feed (replacing any previous one); returned once."""
    token = secrets.token_urlsafe(32)
    statement = insert(CalendarFeed.__table__).values(
        organization_id=organization_id,
        person_id=person_id,
        token_sha256=_digest(token),
        created_at=sa.func.now(),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "person_id"],
            set_={"token_sha256": statement.excluded.token_sha256, "created_at": sa.func.now()},
        )
    )
    return token


async def revoke(
    session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID
) -> bool:
    """Drop the person's feed; False when they had none."""
    result = await session.execute(
        sa.delete(CalendarFeed).where(
            col(CalendarFeed.organization_id) == organization_id,
            col(CalendarFeed.person_id) == person_id,
        )
    )
    return bool(result.rowcount)


async def owner_of(session: AsyncSession, token: str) -> CalendarFeed | None:
    """The feed a token opens, if any (the token alone says which organization)."""
    if not 16 <= len(token) <= 100:
        return None
    return await session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_sha256 == _digest(token))
    )


async def summaries(session: AsyncSession, mentorships: list[Mentorship]) -> dict[uuid.UUID, str]:
    """Each mentorship's meeting title, naming both people when the directory knows them."""
    if not mentorships:
        return {}
    ids = [p for m in mentorships for p in (m.mentor_id, m.mentee_id)]
    known = await directory.people(session, mentorships[0].organization_id, ids)
    titles = {}
    for m in mentorships:
        names = [known[p].full_name for p in (m.mentor_id, m.mentee_id) if p in known]
        titles[m.id] = "Mentoring: " + " & ".join(names) if len(names) == 2 else "Mentoring"
    return titles


async def meetings_of(
    session: AsyncSession, *, organization_id: uuid.UUID, person_id: uuid.UUID
) -> tuple[list[Meeting], dict[uuid.UUID, Mentorship]]:
    """Every meeting of the person, in any of their mentorships (the latest FEED_LIMIT)."""
    mentorships = (
        await session.exec(
            select(Mentorship).where(
                Mentorship.organization_id == organization_id,
                sa.or_(Mentorship.mentor_id == person_id, Mentorship.mentee_id == person_id),
            )
        )
    ).all()
    by_id = {m.id: m for m in mentorships}
    if not by_id:
        return [], by_id
    meetings = (
        await session.exec(
            select(Meeting)
            .where(
                Meeting.organization_id == organization_id,
                col(Meeting.mentorship_id).in_(list(by_id)),
            )
            .order_by(col(Meeting.starts_at).desc())
            .limit(FEED_LIMIT)
        )
    ).all()
    return sorted(meetings, key=lambda m: m.starts_at), by_id
