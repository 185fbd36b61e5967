"""Sessions benchmark (issue 5): the health watch over 50,000 mentorships.

Seeds the bench stack's Postgres (COPY) with 50,000 mentorships and a year of realistic facts:
meetings on each pair's own rhythm (some diligent, some drifting, some cancelling), check-ins,
dated goals. Then times one full sweep - claiming batches, the grouped facts queries, vectorized
scoring, writing scores and flags, at-risk events to the outbox - against the floor any
implementation pays: the bare grouped SQL aggregation over the same rows, in one statement per
table, with no scoring and no writes. Rounds alternate so that drift on a shared machine hits both.

Usage: python tests/bench/run.py --only sessions
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure

from trellis_sessions.health.sweep import sweep
from trellis_sessions.settings import SessionsSettings
from trellis_shared.db import create_engine, create_sessionmaker

N = 50_000
SEED = 5
ROUNDS = 3
BATCH = 1000
ORGS, PROGRAMS = 20, 100

# The aggregation any health computation needs, over every active mentorship at once: the same
# windows and filters as the sweep's facts queries.
_ACTIVE = """WITH b AS (SELECT id, organization_id AS org,
                            now() - make_interval(days => 3 * cadence_days) AS since
                     FROM mentorship WHERE status = 'active')"""
_FLOOR = [
    f"""{_ACTIVE}
    SELECT b.id,
           count(*) FILTER (WHERE x.status = 'completed' AND x.starts_at BETWEEN b.since AND now()),
           count(*) FILTER (WHERE x.status = 'cancelled'
                            AND coalesce(x.cancelled_at, x.starts_at) BETWEEN b.since AND now()),
           max(x.starts_at) FILTER (WHERE x.status = 'completed' AND x.starts_at <= now())
    FROM b JOIN meeting x ON x.mentorship_id = b.id AND x.organization_id = b.org
    GROUP BY b.id""",
    f"""{_ACTIVE}
    SELECT b.id, count(*) FILTER (WHERE c.created_at >= b.since),
           avg(c.rating) FILTER (WHERE c.created_at >= b.since), max(c.created_at)
    FROM b JOIN checkin c ON c.mentorship_id = b.id AND c.organization_id = b.org
     AND c.created_at <= now()
    GROUP BY b.id""",
    f"""{_ACTIVE}
    SELECT b.id, count(*),
           avg(CASE WHEN g.status = 'completed' THEN 1.0 ELSE g.progress / 100.0 END),
           avg(CASE WHEN g.due <= g.created_at THEN 1.0
                    ELSE least(1.0, greatest(0.0, extract(epoch FROM now() - g.created_at)
                                                  / extract(epoch FROM g.due - g.created_at)))
               END)
    FROM b
    JOIN (SELECT *, (target_date + 1)::timestamp AT TIME ZONE 'UTC' AS due FROM goal) g
      ON g.mentorship_id = b.id AND g.organization_id = b.org
    WHERE g.status <> 'dropped' AND g.target_date IS NOT NULL
    GROUP BY b.id""",
]


def bench_sessions(stack, baseline: object, seconds: int) -> list[Figure]:
    stack.migrate("sessions")
    return asyncio.run(_bench(stack))


async def _bench(stack) -> list[Figure]:
    settings = SessionsSettings(**stack.service_settings("sessions"))
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": settings.db_schema})
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine, settings)
    try:
        started = time.perf_counter()
        counts = await _seed(conn)
        await conn.execute("ANALYZE mentorship, meeting, checkin, goal, program_view")
        _note(f"seeded {counts} in {time.perf_counter() - started:.1f} s (not timed)")
        active = await conn.fetchval("SELECT count(*) FROM mentorship WHERE status = 'active'")
        ours, floor, flagged = [], [], []
        for _ in range(ROUNDS):
            floor.append(await _floor(conn))
            await _reset(conn)
            started = time.perf_counter()
            result = await sweep(sessionmaker, batch_size=BATCH)
            ours.append(time.perf_counter() - started)
            flagged.append(result.flagged)
            assert result.checked == active, (result, active)
        _note(
            f"sweep {[f'{t:.2f}' for t in ours]} s, floor {[f'{t:.2f}' for t in floor]} s, "
            f"{active:,} active, {flagged[0]:,} flagged at risk"
        )
        return [
            Figure(
                f"health sweep, {N // 1000}k mentorships ({active:,} active, {flagged[0]:,} "
                "flagged): facts + vectorized score + writes + events",
                active / statistics.median(ours),
                active / statistics.median(floor),
                "mentorships/s",
                "bare grouped SQL aggregation",
            )
        ]
    finally:
        await conn.close()
        await engine.dispose()


async def _floor(conn) -> float:
    started = time.perf_counter()
    async with conn.transaction():
        for query in _FLOOR:
            await conn.fetch(query)
    return time.perf_counter() - started


async def _reset(conn) -> None:
    """Every round judges from scratch: no scores, no flags, an empty outbox."""
    await conn.execute(
        "UPDATE mentorship SET health_score = NULL, health_checked_at = NULL, at_risk_since = NULL"
    )
    await conn.execute("TRUNCATE outbox_message")
    await conn.execute("VACUUM ANALYZE mentorship")


async def _seed(conn) -> dict[str, int]:
    await conn.execute("TRUNCATE mentorship, program_view, outbox_message CASCADE")
    rng = np.random.default_rng(SEED)
    now = datetime.now(UTC)
    orgs = [uuid.uuid4() for _ in range(ORGS)]
    programs = [(uuid.uuid4(), orgs[k % ORGS]) for k in range(PROGRAMS)]
    await conn.copy_records_to_table(
        "program_view",
        records=[
            (p, o, f"Program {k}", 14, 45, int(rng.choice([50, 50, 60])), 1, now)
            for k, (p, o) in enumerate(programs)
        ],
        columns=[
            "id",
            "organization_id",
            "name",
            "cadence_days",
            "meeting_minutes",
            "health_threshold",
            "version",
            "updated_at",
        ],
    )
    ids = [uuid.uuid4() for _ in range(N)]
    program = rng.integers(0, PROGRAMS, N)
    org = [programs[p][1] for p in program]
    cadence = rng.choice([7, 14, 14, 14, 30], N)
    age = rng.uniform(1, 365, N)
    status = rng.choice(["active", "paused", "completed", "ended"], N, p=[0.88, 0.05, 0.05, 0.02])
    diligence = rng.beta(4, 1.5, N)  # how reliably a pair keeps its rhythm
    started = [now - timedelta(days=float(a)) for a in age]
    await conn.copy_records_to_table(
        "mentorship",
        records=[
            (
                ids[i],
                org[i],
                programs[program[i]][0],
                uuid.uuid4(),
                uuid.uuid4(),
                uuid.uuid4(),
                float(np.clip(diligence[i] + rng.normal(0, 0.15), 0, 1)),
                str(status[i]),
                int(cadence[i]),
                45,
                started[i],
                started[i],
                1,
            )
            for i in range(N)
        ],
        columns=[
            "id",
            "organization_id",
            "program_id",
            "match_id",
            "mentor_id",
            "mentee_id",
            "match_score",
            "status",
            "cadence_days",
            "meeting_minutes",
            "started_at",
            "created_at",
            "version",
        ],
    )
    # Meetings: one planned per cadence period since the start (the last 12 periods kept), held
    # with the pair's diligence, else cancelled (a third) or silently missed; one upcoming.
    periods = np.minimum(np.floor(age / cadence), 12).astype(np.int64)
    owner = np.repeat(np.arange(N), periods)
    k = np.concatenate([np.arange(p) for p in periods]) + 1
    ago = k * cadence[owner] - rng.uniform(0, 2, len(owner))
    fate = rng.random(len(owner))
    held = fate < diligence[owner]
    cancelled = ~held & (fate < diligence[owner] + (1 - diligence[owner]) / 3)
    keep = held | cancelled
    meetings = []
    for i, d, h in zip(owner[keep].tolist(), ago[keep].tolist(), held[keep].tolist(), strict=True):
        starts = now - timedelta(days=d)
        meetings.append(_meeting(ids[i], org[i], starts, "completed" if h else "cancelled"))
    for i in np.flatnonzero(rng.random(N) < 0.7).tolist():
        starts = now + timedelta(days=float(rng.uniform(1, cadence[i])))
        meetings.append(_meeting(ids[i], org[i], starts, "scheduled"))
    await conn.copy_records_to_table("meeting", records=meetings, columns=_MEETING_COLUMNS)
    # Check-ins: about one a month from each side, rated with how it goes.
    n_checkins = rng.poisson(np.minimum(age, 120) / 30 * 2 * diligence)
    owner = np.repeat(np.arange(N), n_checkins)
    when = rng.uniform(0, np.minimum(age[owner], 120))
    rating = np.clip(np.rint(1 + 4 * diligence[owner] + rng.normal(0, 0.7, len(owner))), 1, 5)
    await conn.copy_records_to_table(
        "checkin",
        records=[
            (uuid.uuid4(), org[i], ids[i], uuid.uuid4(), "mentee", int(r), now - timedelta(days=d))
            for i, r, d in zip(owner.tolist(), rating.tolist(), when.tolist(), strict=True)
        ],
        columns=[
            "id",
            "organization_id",
            "mentorship_id",
            "author_id",
            "side",
            "rating",
            "created_at",
        ],
    )
    # Goals: up to four, most with target dates, progress that tracks the pair's diligence.
    n_goals = rng.integers(0, 5, N)
    owner = np.repeat(np.arange(N), n_goals)
    created = rng.uniform(0, age[owner])
    span = rng.uniform(30, 240, len(owner))
    elapsed = np.clip(created / span, 0, 1)
    progress = np.clip(elapsed * diligence[owner] * 1.2 + rng.normal(0, 0.1, len(owner)), 0, 1)
    goal_status = np.where(
        progress >= 1, "completed", np.where(rng.random(len(owner)) < 0.05, "dropped", "open")
    )
    dated = rng.random(len(owner)) < 0.8
    goals = [
        (
            uuid.uuid4(),
            org[i],
            ids[i],
            "A goal",
            str(s),
            round(p * 100),
            uuid.uuid4(),
            now - timedelta(days=c),
            (now - timedelta(days=c) + timedelta(days=sp)).date() if has_date else None,
            1,
        )
        for i, s, p, c, sp, has_date in zip(
            owner.tolist(),
            goal_status.tolist(),
            progress.tolist(),
            created.tolist(),
            span.tolist(),
            dated.tolist(),
            strict=True,
        )
    ]
    await conn.copy_records_to_table(
        "goal",
        records=goals,
        columns=[
            "id",
            "organization_id",
            "mentorship_id",
            "title",
            "status",
            "progress",
            "created_by",
            "created_at",
            "target_date",
            "version",
        ],
    )
    return {
        "mentorships": N,
        "meetings": len(meetings),
        "checkins": int(n_checkins.sum()),
        "goals": len(goals),
    }


_MEETING_COLUMNS = [
    "id",
    "organization_id",
    "mentorship_id",
    "starts_at",
    "ends_at",
    "time_zone",
    "duration_minutes",
    "mode",
    "status",
    "cancelled_at",
    "completed_at",
    "sequence",
    "created_at",
    "version",
]


def _meeting(mentorship_id, org, starts, status) -> tuple:
    return (
        uuid.uuid4(),
        org,
        mentorship_id,
        starts,
        starts + timedelta(minutes=45),
        "UTC",
        45,
        "video",
        status,
        starts - timedelta(days=1) if status == "cancelled" else None,
        starts + timedelta(minutes=45) if status == "completed" else None,
        0,
        starts - timedelta(days=14),
        1,
    )


def _note(text: str) -> None:
    print(f"  sessions: {text}", file=sys.stderr, flush=True)
