"""One mentorship's health, computed now from its facts (the same code the sweep runs)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.health.facts import load
from trellis_sessions.health.models import ComponentPublic, HealthPublic
from trellis_sessions.health.score import score
from trellis_sessions.mentorships.models import Mentorship

_NOT_JUDGED = {
    "paused": "The mentorship is paused: its health is not judged until it resumes",
    "completed": "The mentorship is completed: health is watched while it runs",
    "ended": "The mentorship ended early: health is watched while it runs",
}


async def assess(*, session: AsyncSession, mentorship: Mentorship) -> HealthPublic:
    """The mentorship's score with each component's reason; no score unless it is active."""
    now = datetime.now(UTC)
    program = await directory.program_defaults(
        session, mentorship.organization_id, mentorship.program_id
    )
    shown = {
        "mentorship_id": mentorship.id,
        "status": mentorship.status,
        "threshold": program.health_threshold,
        "at_risk_since": mentorship.at_risk_since,
        "computed_at": now,
    }
    if mentorship.status != "active":
        return HealthPublic(
            **shown,
            score=None,
            at_risk=False,
            components=[],
            note=_NOT_JUDGED.get(mentorship.status),
        )
    health = score(await load(session, [mentorship], now))
    value = int(health.score[0])
    return HealthPublic(
        **shown,
        score=value,
        at_risk=value < program.health_threshold,
        components=[ComponentPublic(**vars(c)) for c in health.components(0)],
    )
