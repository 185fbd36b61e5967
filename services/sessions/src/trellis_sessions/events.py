"""Events sessions emits, written to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_shared.contracts import sessions as contracts
from trellis_shared.db import settings_of
from trellis_shared.events import EventContract
from trellis_shared.outbox import emit, notify_channel

PRODUCES = (
    contracts.MentorshipStarted,
    contracts.MentorshipPaused,
    contracts.MentorshipResumed,
    contracts.MentorshipCompleted,
    contracts.MentorshipEnded,
    contracts.MentorshipAtRisk,
    contracts.AgreementSigned,
    contracts.MeetingScheduled,
    contracts.MeetingRescheduled,
    contracts.MeetingCancelled,
    contracts.MeetingCompleted,
    contracts.GoalCompleted,
    contracts.MilestoneAchieved,
    contracts.CheckinSubmitted,
    contracts.FeedbackSubmitted,
)


async def publish(session: AsyncSession, data: EventContract, *, tenant: uuid.UUID) -> None:
    """Write `data` to the outbox in the session's transaction; the relay publishes it."""
    settings = settings_of(session)
    await emit(
        session,
        data,
        tenant=tenant,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )


def identity(mentorship: Any) -> dict[str, Any]:
    """The fields every sessions event carries about its mentorship."""
    return {
        "mentorship_id": mentorship.id,
        "program_id": mentorship.program_id,
        "mentor_id": mentorship.mentor_id,
        "mentee_id": mentorship.mentee_id,
    }
