"""Reading meetings: one by id within the caller's organization, or a mentorship's in time order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings.models import Meeting
from trellis_sessions.mentorships.models import Mentorship
from trellis_shared.pagination import decode_cursor, encode_cursor
from trellis_shared.problems import Problem


async def get(
    session: AsyncSession, organization_id: uuid.UUID, meeting_id: uuid.UUID, *, lock: bool = False
) -> Meeting:
    """The meeting in the caller's organization (404 otherwise); `lock` re-reads it FOR UPDATE."""
    query = select(Meeting).where(
        Meeting.id == meeting_id, Meeting.organization_id == organization_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    meeting = (await session.exec(query)).first()
    if meeting is None:
        raise Problem(404, f"No meeting {meeting_id}")
    return meeting


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def list_for(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Meeting], str | None]:
    """The mentorship's meetings in time order (start in [since, until)), a page at a time.

    A bound given without an offset is read as UTC, like every time this API answers with.
    """
    since, until = (_utc(t) for t in (since, until))
    query = select(Meeting).where(
        Meeting.organization_id == mentorship.organization_id,
        Meeting.mentorship_id == mentorship.id,
    )
    if since is not None:
        query = query.where(col(Meeting.starts_at) >= since)
    if until is not None:
        query = query.where(col(Meeting.starts_at) < until)
    if status is not None:
        query = query.where(Meeting.status == status)
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(sa.tuple_(Meeting.starts_at, Meeting.id) > sa.tuple_(at, last_id))
    rows = list(
        (
            await session.exec(
                query.order_by(col(Meeting.starts_at), col(Meeting.id)).limit(limit + 1)
            )
        ).all()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].starts_at, rows[-1].id)
