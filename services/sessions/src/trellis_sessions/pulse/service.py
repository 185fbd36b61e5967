"""The pulse: check-ins from each side while the mentorship is active, and feedback in both
directions, each shown only to the people its author meant it for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.events import identity, publish
from trellis_sessions.mentorships.access import require_status
from trellis_sessions.mentorships.models import Mentorship, Side
from trellis_sessions.pulse.models import (
    Checkin,
    CheckinCreate,
    CheckinPublic,
    Feedback,
    FeedbackCreate,
)
from trellis_shared.contracts import sessions as contracts
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem

# --- check-ins ---------------------------------------------------------------------------------


async def check_in(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    author_id: uuid.UUID,
    side: Side,
    data: CheckinCreate,
) -> Checkin:
    """Record how it is going for one side; only an active mentorship has a pulse to take."""
    require_status(mentorship, "active", doing="check in")
    checkin = Checkin(
        organization_id=mentorship.organization_id,
        mentorship_id=mentorship.id,
        author_id=author_id,
        side=side,
        created_at=datetime.now(UTC),
        **data.model_dump(),
    )
    session.add(checkin)
    await session.flush()
    await publish(
        session,
        contracts.CheckinSubmitted(
            **identity(mentorship),
            checkin_id=checkin.id,
            author_id=author_id,
            side=side,
            rating=checkin.rating,
            has_blockers=checkin.blockers is not None,
            submitted_at=checkin.created_at,
        ),
        tenant=mentorship.organization_id,
    )
    return checkin


def shown_checkin(checkin: Checkin, *, viewer: uuid.UUID | None, admin: bool) -> CheckinPublic:
    """A check-in as `viewer` may see it: the other side's rating and date, never their words."""
    public = CheckinPublic.model_validate(checkin)
    if admin or checkin.author_id == viewer:
        return public
    return public.model_copy(update={"blockers": None, "note": None, "withheld": True})


async def checkins(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    viewer: uuid.UUID | None,
    admin: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[CheckinPublic], str | None]:
    """The mentorship's check-ins, newest first, as the viewer may see them."""
    query = select(Checkin).where(
        Checkin.organization_id == mentorship.organization_id,
        Checkin.mentorship_id == mentorship.id,
    )
    rows, next_cursor = await keyset_page(
        session, query, Checkin, limit=limit, cursor=cursor, newest_first=True
    )
    return [shown_checkin(c, viewer=viewer, admin=admin) for c in rows], next_cursor


# --- feedback ----------------------------------------------------------------------------------


async def _require_completed_meeting(
    session: AsyncSession, mentorship: Mentorship, meeting_id: uuid.UUID
) -> None:
    # The meetings area owns that table; its status is the one fact feedback depends on.
    status = await session.scalar(
        sa.text(
            "SELECT status FROM meeting"
            " WHERE id = :id AND organization_id = :org AND mentorship_id = :mentorship"
        ),
        {"id": meeting_id, "org": mentorship.organization_id, "mentorship": mentorship.id},
    )
    if status is None:
        raise Problem(
            422,
            "Invalid body.meeting_id: not a meeting of this mentorship",
            errors=[{"field": "body.meeting_id", "message": "not a meeting of this mentorship"}],
        )
    if status != "completed":
        raise Problem(
            409,
            f"Feedback on a meeting comes after it: this meeting is {status}",
            slug="meeting-state",
            status_now=status,
        )


async def give_feedback(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    author_id: uuid.UUID,
    side: Side,
    data: FeedbackCreate,
) -> Feedback:
    """Rate a completed meeting (once per author) or the mentorship as a whole (any time, also
    after it ended: that is when a program learns most)."""
    if data.meeting_id is not None:
        await _require_completed_meeting(session, mentorship, data.meeting_id)
    feedback = Feedback(
        organization_id=mentorship.organization_id,
        mentorship_id=mentorship.id,
        author_id=author_id,
        side=side,
        created_at=datetime.now(UTC),
        **data.model_dump(),
    )
    session.add(feedback)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Problem(
            409, "You have already given feedback on this meeting", slug="feedback-given"
        ) from exc
    await publish(
        session,
        contracts.FeedbackSubmitted(
            **identity(mentorship),
            feedback_id=feedback.id,
            meeting_id=feedback.meeting_id,
            author_id=author_id,
            side=side,
            visibility=data.visibility,
            rating=feedback.rating,
            submitted_at=feedback.created_at,
        ),
        tenant=mentorship.organization_id,
    )
    return feedback


async def feedback(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    viewer: uuid.UUID | None,
    admin: bool,
    meeting_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Feedback], str | None]:
    """The feedback the viewer may read, newest first: shared feedback, their own, and, for
    admins, what was written for the program's admins. Private feedback is its author's alone."""
    readable = [Feedback.visibility == "shared"]
    if viewer is not None:
        readable.append(Feedback.author_id == viewer)
    if admin:
        readable.append(Feedback.visibility == "program_admin")
    query = select(Feedback).where(
        Feedback.organization_id == mentorship.organization_id,
        Feedback.mentorship_id == mentorship.id,
        sa.or_(*readable),
    )
    if meeting_id is not None:
        query = query.where(Feedback.meeting_id == meeting_id)
    return await keyset_page(
        session, query, Feedback, limit=limit, cursor=cursor, newest_first=True
    )
