"""The program report: how the program's mentorships are doing, and whether a better match score
led to a better mentorship (the closed loop back to matching).

Every query is scoped to the caller's organization and the program; per-mentorship facts are
read with one grouped query per table and joined in numpy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.health.models import (
    Correlation,
    Goals,
    MatchQuality,
    Quintile,
    Rated,
    ReportPublic,
)
from trellis_sessions.health.stats import mean_or_none, quintiles, rate_or_none, spearman
from trellis_shared.problems import Problem

_SCOPE = "SELECT id FROM mentorship WHERE organization_id = :org AND program_id = :program"

_MENTORSHIPS = sa.text("""
SELECT id, status, match_score, health_score, at_risk_since IS NOT NULL AS flagged
FROM mentorship WHERE organization_id = :org AND program_id = :program
""")
_MEETINGS = sa.text(f"""
SELECT mentorship_id AS id, count(*) AS held FROM meeting
WHERE organization_id = :org AND status = 'completed' AND mentorship_id IN ({_SCOPE})
GROUP BY mentorship_id
""")
_EVALUATIONS = sa.text(f"""
SELECT mentorship_id AS id, avg(rating) AS rating, count(*) AS n FROM evaluation
WHERE organization_id = :org AND mentorship_id IN ({_SCOPE})
GROUP BY mentorship_id
""")
_GOALS = sa.text(f"""
SELECT count(*) FILTER (WHERE status <> 'dropped') AS total,
       count(*) FILTER (WHERE status = 'completed') AS completed
FROM goal WHERE organization_id = :org AND mentorship_id IN ({_SCOPE})
""")
# Private feedback is its author's alone, even as a number in an average.
_FEEDBACK = sa.text(f"""
SELECT count(*) AS n, avg(rating) AS mean FROM feedback
WHERE organization_id = :org AND visibility <> 'private' AND mentorship_id IN ({_SCOPE})
""")
_CHECKINS = sa.text(f"""
SELECT count(*) AS n, avg(rating) AS mean FROM checkin
WHERE organization_id = :org AND mentorship_id IN ({_SCOPE})
""")
_PROGRAM = sa.text("SELECT 1 FROM program_view WHERE organization_id = :org AND id = :program")

STATUSES = ("active", "paused", "completed", "ended")


async def build(
    *, session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> ReportPublic:
    """The report of a program of the caller's organization (404 for any other)."""
    params = {"org": organization_id, "program": program_id}
    rows = (await session.execute(_MENTORSHIPS, params)).all()
    if not rows and (await session.execute(_PROGRAM, params)).first() is None:
        raise Problem(404, f"No program {program_id}")
    index = {r.id: i for i, r in enumerate(rows)}
    n = len(rows)
    status = np.array([r.status for r in rows], dtype=object)
    match = np.array([np.nan if r.match_score is None else r.match_score for r in rows])
    health = np.array([np.nan if r.health_score is None else r.health_score for r in rows])
    held = np.zeros(n)
    for r in await _all(session, _MEETINGS, params):
        held[index[r.id]] = r.held
    rating = np.full(n, np.nan)  # a mentorship's closing rating: the mean of both sides'
    evaluations = []
    for r in await _all(session, _EVALUATIONS, params):
        rating[index[r.id]] = float(r.rating)
        evaluations.append((float(r.rating), r.n))
    goals = (await session.execute(_GOALS, params)).one()
    feedback = (await session.execute(_FEEDBACK, params)).one()
    checkins = (await session.execute(_CHECKINS, params)).one()
    evaluated = sum(k for _, k in evaluations)
    return ReportPublic(
        program_id=program_id,
        mentorships={s: int((status == s).sum()) for s in STATUSES} | {"total": n},
        at_risk=sum(1 for r in rows if r.flagged and r.status == "active"),
        meetings_per_mentorship=mean_or_none(held),
        goals=Goals(
            total=goals.total,
            completed=goals.completed,
            completion_rate=rate_or_none(goals.completed, goals.total),
        ),
        feedback=_rated(feedback),
        closing_evaluations=Rated(
            n=evaluated,
            mean_rating=round(sum(m * k for m, k in evaluations) / evaluated, 4)
            if evaluated
            else None,
        ),
        checkins=_rated(checkins),
        match_quality=_match_quality(match, status, held, rating, health),
        generated_at=datetime.now(UTC),
    )


def _match_quality(
    match: np.ndarray,
    status: np.ndarray,
    held: np.ndarray,
    rating: np.ndarray,
    health: np.ndarray,
) -> MatchQuality:
    rho, n, note = spearman(match, rating)
    correlations = [
        Correlation(
            outcome="closing_rating",
            description="Mean closing evaluation rating (both sides) of evaluated mentorships",
            rho=rho,
            n=n,
            note=note,
        )
    ]
    rho, n, note = spearman(match, np.where(status == "active", health, np.nan))
    correlations.append(
        Correlation(
            outcome="health_score",
            description="Latest health score of active mentorships (the watch's last sweep)",
            rho=rho,
            n=n,
            note=note,
        )
    )
    bucket = quintiles(match)
    table = []
    for q in range(5):
        members = bucket == q
        closed = members & np.isin(status, ("completed", "ended"))
        completed = members & (status == "completed")
        scores = match[members]
        table.append(
            Quintile(
                quintile=q + 1,
                score_min=round(float(scores.min()), 4) if len(scores) else None,
                score_max=round(float(scores.max()), 4) if len(scores) else None,
                n=int(members.sum()),
                completion_rate=rate_or_none(int(completed.sum()), int(closed.sum())),
                mean_rating=mean_or_none(rating[members]),
                mean_meetings=mean_or_none(held[members]),
            )
        )
    return MatchQuality(correlations=correlations, quintiles=table)


def _rated(row: Any) -> Rated:
    return Rated(n=row.n, mean_rating=None if row.mean is None else round(float(row.mean), 4))


async def _all(session: AsyncSession, query: sa.TextClause, params: dict[str, Any]) -> list:
    return list((await session.execute(query, params)).all())
