"""The health watch: recompute every active mentorship's score, flag those that drift.

A mentorship whose score falls below its program's threshold is flagged (`at_risk_since`) and
announced once with `mentorship.at_risk`; it stays flagged until it recovers a few points above
the threshold (hysteresis), so a score hovering at the line does not announce again and again.

Several replicas may sweep at once: each batch is claimed with FOR UPDATE SKIP LOCKED, walked in
id order, and a mentorship checked recently enough (`fresh_for`) is not taken again, so replicas
share the work instead of repeating it, and a flag is never raised twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_sessions.directory import ProgramDefaults
from trellis_sessions.events import identity
from trellis_sessions.health.facts import load
from trellis_sessions.health.score import score
from trellis_shared.contracts import sessions as contracts
from trellis_shared.db import settings_of
from trellis_shared.outbox import emit_many, notify_channel

log = logging.getLogger("trellis.sessions.health")
HYSTERESIS = 5  # points above the threshold a flagged mentorship must reach to be cleared

_CLAIM = sa.text("""
SELECT id, organization_id, program_id, mentor_id, mentee_id, cadence_days, started_at,
       resumed_at, at_risk_since
FROM mentorship
WHERE status = 'active' AND id > :after
  AND (health_checked_at IS NULL OR health_checked_at < :cutoff)
ORDER BY id
LIMIT :limit
FOR UPDATE SKIP LOCKED
""")

_THRESHOLDS = sa.text("""
SELECT p.id, p.organization_id, p.health_threshold
FROM program_view p
JOIN unnest(CAST(:programs AS uuid[]), CAST(:orgs AS uuid[])) AS b(id, org)
  ON p.id = b.id AND p.organization_id = b.org
""")

_WRITE = sa.text("""
UPDATE mentorship AS m
SET health_score = b.score, health_checked_at = :now, at_risk_since = b.since
FROM unnest(CAST(:ids AS uuid[]), CAST(:scores AS int[]), CAST(:since AS timestamptz[]))
     AS b(id, score, since)
WHERE m.id = b.id
""")

# Health is judged on active mentorships only: a flag does not outlive a pause or the end.
_UNFLAG_CLOSED = sa.text("""
UPDATE mentorship SET at_risk_since = NULL
WHERE id IN (SELECT id FROM mentorship
             WHERE status <> 'active' AND at_risk_since IS NOT NULL
             FOR UPDATE SKIP LOCKED)
""")


@dataclass
class SweepResult:
    checked: int = 0
    flagged: int = 0
    recovered: int = 0
    unflagged_inactive: int = 0


async def sweep(
    sessionmaker: Any,
    *,
    now: datetime | None = None,
    fresh_for: timedelta = timedelta(0),
    batch_size: int = 1000,
) -> SweepResult:
    """One full sweep over every tenant's active mentorships, one transaction per batch."""
    now = now or datetime.now(UTC)
    result = SweepResult()
    async with sessionmaker() as session, session.begin():
        result.unflagged_inactive = (await session.execute(_UNFLAG_CLOSED)).rowcount
    after = uuid.UUID(int=0)
    while True:
        async with sessionmaker() as session, session.begin():
            claimed = (
                await session.execute(
                    _CLAIM,
                    {"after": after, "cutoff": now - fresh_for, "limit": batch_size},
                )
            ).all()
            if not claimed:
                return result
            await _judge(session, claimed, now, result)
        after = claimed[-1].id


async def _judge(session: AsyncSession, batch: list, now: datetime, result: SweepResult) -> None:
    health = score(await load(session, batch, now))
    threshold = await _thresholds(session, batch)
    flagged = np.array([m.at_risk_since is not None for m in batch])
    below = health.score < threshold
    raised = below & ~flagged
    cleared = flagged & (health.score >= threshold + HYSTERESIS)
    since = [
        now if raised[i] else None if cleared[i] else m.at_risk_since for i, m in enumerate(batch)
    ]
    await session.execute(
        _WRITE,
        {
            "ids": [m.id for m in batch],
            "scores": health.score.tolist(),
            "since": since,
            "now": now,
        },
    )
    by_tenant: dict[uuid.UUID, list[contracts.MentorshipAtRisk]] = defaultdict(list)
    for i in np.flatnonzero(raised).tolist():
        m = batch[i]
        by_tenant[m.organization_id].append(
            contracts.MentorshipAtRisk(
                **identity(m),
                score=int(health.score[i]),
                threshold=int(threshold[i]),
                reasons=health.reasons(i),
                detected_at=now,
            )
        )
    settings = settings_of(session)
    for tenant, events in by_tenant.items():
        await emit_many(
            session,
            events,
            tenant=tenant,
            source=settings.source,
            channel=notify_channel(settings.db_schema),
        )
    result.checked += len(batch)
    result.flagged += int(raised.sum())
    result.recovered += int(cleared.sum())


async def _thresholds(session: AsyncSession, batch: list) -> np.ndarray:
    """Each mentorship's program threshold; the platform default until the program is known."""
    pairs = {(m.program_id, m.organization_id) for m in batch}
    rows = await session.execute(
        _THRESHOLDS,
        {"programs": [p for p, _ in pairs], "orgs": [o for _, o in pairs]},
    )
    known = {(r.id, r.organization_id): r.health_threshold for r in rows}
    default = ProgramDefaults().health_threshold
    return np.array(
        [known.get((m.program_id, m.organization_id), default) for m in batch], np.int64
    )


async def watch_health(runtime: Any) -> None:
    """The background job: a sweep every `health_sweep_seconds`.

    A replica waits one period before its first sweep: replicas started together then do not
    all sweep at once, and the others have swept recently anyway. Mentorships checked within
    half a period are left alone, so N replicas do the work about once per period, not N times.
    """
    settings = runtime.spec.settings
    every = settings.health_sweep_seconds
    while True:
        await asyncio.sleep(every)
        try:
            done = await sweep(
                runtime.sessionmaker,
                fresh_for=timedelta(seconds=every / 2),
                batch_size=settings.health_batch_size,
            )
            log.info("health sweep: %s", done)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("health sweep failed; retrying next period", exc_info=True)
