"""The facts health is computed from, read for a whole batch of mentorships at once.

One grouped query per facts table (meetings, check-ins, goals) for the batch, never one per
mentorship. The batch travels as arrays (unnest), each mentorship with its organization, so
every join is tenant-filtered like any other query; the meeting, check-in and goal tables belong
to other areas of sessions and are read by their documented columns only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_sessions.health.score import WINDOWS, Facts

_BATCH = (
    "unnest(CAST(:ids AS uuid[]), CAST(:orgs AS uuid[]), CAST(:since AS timestamptz[]))"
    " AS b(id, org, since) CROSS JOIN (SELECT CAST(:now AS timestamptz) AS now) AS t"
)

# Each query answers numbers only (days as fractions, means as float8), so that a batch's rows
# become numpy columns in one step.
_MEETINGS = sa.text(f"""
SELECT b.id,
       count(*) FILTER (WHERE m.status = 'completed' AND m.starts_at BETWEEN b.since AND t.now),
       count(*) FILTER (WHERE m.status = 'cancelled'
                        AND coalesce(m.cancelled_at, m.starts_at) BETWEEN b.since AND t.now),
       extract(epoch FROM t.now - max(m.starts_at) FILTER (WHERE m.status = 'completed'
                                                           AND m.starts_at <= t.now)) / 86400.0
FROM {_BATCH}
JOIN meeting m ON m.mentorship_id = b.id AND m.organization_id = b.org
WHERE m.mentorship_id BETWEEN :lo AND :hi
GROUP BY b.id, t.now
""")

_CHECKINS = sa.text(f"""
SELECT b.id,
       count(*) FILTER (WHERE c.created_at >= b.since),
       CAST(avg(c.rating) FILTER (WHERE c.created_at >= b.since) AS float8),
       extract(epoch FROM t.now - max(c.created_at)) / 86400.0
FROM {_BATCH}
JOIN checkin c ON c.mentorship_id = b.id AND c.organization_id = b.org AND c.created_at <= t.now
WHERE c.mentorship_id BETWEEN :lo AND :hi
GROUP BY b.id, t.now
""")

# A goal's schedule runs from its creation to the end of its target day (UTC); a target on or
# before the creation day is due at once.
_GOALS = sa.text(f"""
SELECT b.id,
       count(*),
       CAST(avg(CASE WHEN g.status = 'completed' THEN 1.0 ELSE g.progress / 100.0 END)
            AS float8),
       CAST(avg(CASE WHEN g.due <= g.created_at THEN 1.0
                     ELSE least(1.0, greatest(0.0, extract(epoch FROM (t.now - g.created_at))
                                                   / extract(epoch FROM (g.due - g.created_at))))
                END) AS float8)
FROM {_BATCH}
JOIN (SELECT *, (target_date + 1)::timestamp AT TIME ZONE 'UTC' AS due FROM goal) AS g
  ON g.mentorship_id = b.id AND g.organization_id = b.org
WHERE g.mentorship_id BETWEEN :lo AND :hi
  AND g.status <> 'dropped' AND g.target_date IS NOT NULL
GROUP BY b.id
""")


def _since(mentorship: Any) -> datetime:
    resumed = getattr(mentorship, "resumed_at", None)
    return max(mentorship.started_at, resumed) if resumed else mentorship.started_at


async def load(session: AsyncSession, mentorships: Sequence[Any], now: datetime) -> Facts:
    """The facts of `mentorships` (objects or rows with id, organization_id, cadence_days and
    started_at) as of `now`, in their order."""
    n = len(mentorships)
    cadence = np.array([max(m.cadence_days, 1) for m in mentorships], np.float64)
    # A resumed mentorship gets the same grace as a new one: its clock restarts at the resume.
    age = np.array([(now - _since(m)).total_seconds() / 86400.0 for m in mentorships])
    facts = Facts(
        cadence_days=cadence,
        age_days=np.maximum(age, 0.0),
        completed=np.zeros(n),
        cancelled=np.zeros(n),
        since_contact_days=np.full(n, np.nan),
        checkins=np.zeros(n),
        checkin_mean=np.full(n, np.nan),
        goals=np.zeros(n),
        goal_progress=np.zeros(n),
        goal_elapsed=np.zeros(n),
    )
    if not n:
        return facts
    ids = [m.id for m in mentorships]
    params = {
        "ids": ids,
        "orgs": [m.organization_id for m in mentorships],
        "since": [now - timedelta(days=WINDOWS * c) for c in cadence.tolist()],
        "now": now,
        # Batches are runs of ids in order: the range lets each table's (mentorship_id, ...)
        # index scan just the batch's rows, where a join alone would scan the whole table.
        "lo": min(ids),
        "hi": max(ids),
    }
    index = {id_: i for i, id_ in enumerate(ids)}
    last_contact = np.full(n, np.nan)

    at, (completed, cancelled, met) = await _columns(session, _MEETINGS, params, index)
    facts.completed[at], facts.cancelled[at], last_contact[at] = completed, cancelled, met

    at, (checkins, mean, checked_in) = await _columns(session, _CHECKINS, params, index)
    facts.checkins[at], facts.checkin_mean[at] = checkins, mean
    last_contact[at] = np.fmin(last_contact[at], checked_in)

    at, (goals, progress, elapsed) = await _columns(session, _GOALS, params, index)
    facts.goals[at], facts.goal_progress[at], facts.goal_elapsed[at] = goals, progress, elapsed

    facts.since_contact_days = np.maximum(last_contact, 0.0)  # NaN (never) stays NaN
    return facts


async def _columns(
    session: AsyncSession, query: sa.TextClause, params: dict[str, Any], index: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Where each answered row belongs in the batch, and its number columns (NULL -> NaN)."""
    rows = (await session.execute(query, params)).all()
    at = np.fromiter((index[r[0]] for r in rows), np.int64, len(rows))
    values = np.array([r[1:] for r in rows], np.float64).reshape(len(rows), 3)
    return at, values.T
