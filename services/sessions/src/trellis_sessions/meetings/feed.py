"""A person's calendar feed: a secret URL a calendar app polls without a bearer token.

The token is the only credential, so it is long and random, and only its SHA-256 is stored: a
database leak does not reveal working URLs. Creating a feed again rotates the token (the old URL
stops working); deleting it revokes it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.meetings.ics import Cast, Person
from trellis_sessions.meetings.models import CalendarFeed, Meeting
from trellis_sessions.mentorships.models import Mentorship

# A calendar app re-reads the feed every few hours; years of history are not what it needs, so a
# feed holds the meetings still ahead (nearest first) and fills up with the most recent past ones.
FEED_LIMIT = 2000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_of(public_base_url: str, token: str) -> str:
    """The absolute URL a calendar app subscribes to (through the gateway)."""
    return f"{public_base_url.rstrip('/')}/sessions/calendar/{token}.ics"


def webcal_of(url: str) -> str:
    """The same feed as a webcal:// link, which opens the subscription dialog of calendar apps."""
    return "webcal://" + url.split("://", 1)[1]


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


async def casts(session: AsyncSession, mentorships: list[Mentorship]) -> dict[uuid.UUID, Cast]:
    """Each mentorship's meeting title and people, named when the directory knows them."""
    if not mentorships:
        return {}
    ids = [p for m in mentorships for p in (m.mentor_id, m.mentee_id)]
    known = await directory.people(session, mentorships[0].organization_id, ids)
    found = {}
    for m in mentorships:
        mentor, mentee = (
            Person(p, known[p].full_name if p in known else None)
            for p in (m.mentor_id, m.mentee_id)
        )
        names = [p.name for p in (mentor, mentee) if p.name]
        summary = "Mentoring: " + " & ".join(names) if len(names) == 2 else "Mentoring"
        found[m.id] = Cast(summary, mentor, mentee)
    return found


async def meetings_of(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    limit: int = FEED_LIMIT,
) -> tuple[list[Meeting], dict[uuid.UUID, Mentorship]]:
    """The person's meetings in any of their mentorships, in time order: those not over yet
    (nearest first), then the most recent past ones, `limit` in all."""
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
    theirs = select(Meeting).where(
        Meeting.organization_id == organization_id,
        col(Meeting.mentorship_id).in_(list(by_id)),
    )
    now = datetime.now(UTC)
    ahead = (
        await session.exec(
            theirs.where(col(Meeting.ends_at) > now)
            .order_by(col(Meeting.starts_at), col(Meeting.id))
            .limit(limit)
        )
    ).all()
    past = []
    if len(ahead) < limit:
        past = (
            await session.exec(
                theirs.where(col(Meeting.ends_at) <= now)
                .order_by(col(Meeting.starts_at).desc(), col(Meeting.id))
                .limit(limit - len(ahead))
            )
        ).all()
    return sorted([*past, *ahead], key=lambda m: m.starts_at), by_id
