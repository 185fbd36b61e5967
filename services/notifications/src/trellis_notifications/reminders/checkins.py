"""Check-in prompts on the mentorship's cadence: every `cadence_days`, both participants are asked
how it is going. A pause stops the prompts until the mentorship resumes (the next one comes a
full cadence after resuming); completing or ending it stops them for good.

A mentorship first seen paused or resumed (its start predates notifications) has no known
cadence and gets no prompts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import dispatch
from trellis_notifications.catalog import Recipient
from trellis_notifications.reminders.models import CheckinFacts, MentorshipView
from trellis_shared.contracts import sessions as s

TEMPLATE, CATEGORY = "checkin_prompt", "progress"
EVENT_TYPES = frozenset(
    c.event_type
    for c in (
        s.MentorshipStarted,
        s.MentorshipPaused,
        s.MentorshipResumed,
        s.MentorshipCompleted,
        s.MentorshipEnded,
    )
)
MentorshipEvent = (
    s.MentorshipStarted
    | s.MentorshipPaused
    | s.MentorshipResumed
    | s.MentorshipCompleted
    | s.MentorshipEnded
)


async def track(session: AsyncSession, tenant: uuid.UUID, data: MentorshipEvent) -> None:
    """Keep the mentorship's rhythm as the event says; an event older than the last one applied
    (a replay from the dead-letter queue) changes nothing."""
    if isinstance(data, s.MentorshipStarted):
        values = {
            "organization_id": tenant,
            "program_id": data.program_id,
            "mentor_id": data.mentor_id,
            "mentee_id": data.mentee_id,
            "cadence_days": data.cadence_days,
            "status": "active",
            "next_prompt_at": data.started_at + timedelta(days=data.cadence_days),
            "changed_at": data.started_at,
        }
        statement = insert(MentorshipView.__table__).values(id=data.mentorship_id, **values)
        await session.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
        return
    at, change = _change(data)
    await session.execute(
        sa.update(MentorshipView)
        .where(
            MentorshipView.id == data.mentorship_id,
            MentorshipView.organization_id == tenant,
            col(MentorshipView.changed_at) <= at,
            # Nothing comes back from the end of a mentorship.
            col(MentorshipView.status).in_(("active", "paused")),
        )
        .values(**change, changed_at=at, updated_at=sa.func.now())
        .execution_options(synchronize_session=False)
    )


def _change(data: MentorshipEvent) -> tuple[datetime, dict]:
    if isinstance(data, s.MentorshipPaused):
        return data.paused_at, {"status": "paused", "next_prompt_at": None}
    if isinstance(data, s.MentorshipResumed):
        return data.resumed_at, {
            "status": "active",
            "next_prompt_at": sa.literal(data.resumed_at, sa.DateTime(timezone=True))
            + sa.func.make_interval(0, 0, 0, MentorshipView.cadence_days),
        }
    if isinstance(data, s.MentorshipCompleted):
        return data.completed_at, {"status": "completed", "next_prompt_at": None}
    return data.ended_at, {"status": "ended", "next_prompt_at": None}


_CLAIM = (
    select(MentorshipView)
    .where(
        MentorshipView.status == "active", col(MentorshipView.next_prompt_at) <= sa.bindparam("now")
    )
    .order_by(col(MentorshipView.next_prompt_at))
    .limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True)
)


async def prompt_due(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Prompt the participants of (up to `limit`) mentorships whose check-in is due; how many.

    The prompt and the move to the next date commit together, and its source is the due date:
    a mentorship is prompted once per cadence whatever the number of workers.
    """
    due = (await session.exec(_CLAIM.params(now=now, limit=limit))).all()
    for view in due:
        source = uuid.uuid5(view.id, f"checkin-prompt:{view.next_prompt_at.isoformat()}")
        facts = CheckinFacts(
            mentorship_id=view.id,
            program_id=view.program_id,
            mentor_id=view.mentor_id,
            mentee_id=view.mentee_id,
            cadence_days=view.cadence_days,
        )
        for recipient in (
            Recipient(view.mentor_id, "mentor", view.mentee_id),
            Recipient(view.mentee_id, "mentee", view.mentor_id),
        ):
            await dispatch.notify(
                session,
                tenant=view.organization_id,
                recipient=recipient,
                source_id=source,
                template=TEMPLATE,
                category=CATEGORY,
                data=facts,
                link=f"/sessions/mentorships/{view.id}/checkins",
            )
        view.last_prompted_at = now
        view.next_prompt_at = _after(view.next_prompt_at, timedelta(days=view.cadence_days), now)
        session.add(view)
    await session.flush()
    return len(due)


def _after(due: datetime, cadence: timedelta, now: datetime) -> datetime:
    """The first date on the cadence after `now`: prompts missed in an outage are not piled up."""
    missed = (now - due) // cadence
    return due + cadence * (missed + 1)
