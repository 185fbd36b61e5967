"""Sessions benchmark (issue 5): meetings scheduled per second.

`POST /sessions/mentorships/{id}/meetings` does everything a user's scheduling does: the token,
the mentorship's access rules, time-zone conversion, validation, per-participant advisory locks
and the conflict query, the meeting row, and its event in the outbox. wrk drives it at fixed
concurrency across 2,000 seeded mentorships, each request a new slot, so every request is a real
booking (a 409 would be counted as a non-2xx and reported). Baseline in the same run: one raw
asyncpg INSERT behind a bare Starlette route (the write benchmark's baseline).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure, interleaved, wrk

MENTORSHIPS = 2_000
THREADS = 2


def _lua(ids: list[str], first_slot: datetime) -> str:
    table = ",".join(f'"{i}"' for i in ids)
    return f"""
ids = {{{table}}}
counter = 0
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  -- Thread t takes the requests t, t + {THREADS}, t + {2 * THREADS}, ...: never the same slot.
  local k = counter * {THREADS} + tid
  counter = counter + 1
  local id = ids[(k % #ids) + 1]
  local at = {int(first_slot.timestamp())} + math.floor(k / #ids) * 3600
  local body = string.format(
    '{{"start": "%s", "time_zone": "UTC", "duration_minutes": 30, "mode": "video"}}',
    os.date("!%Y-%m-%dT%H:%M:%S", at))
  return wrk.format("POST", "/sessions/mentorships/" .. id .. "/meetings", nil, body)
end
"""


async def _seed(dsn: str, org: uuid.UUID) -> list[str]:
    """Mentorships and their people, as sessions holds them after accepted matches."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "sessions"})
    try:
        now = datetime.now(UTC)
        people = [(uuid.uuid4(), uuid.uuid4()) for _ in range(MENTORSHIPS)]
        await conn.copy_records_to_table(
            "person_view",
            columns=["id", "organization_id", "full_name", "time_zone", "locale", "version"],
            records=[
                (p, org, f"Bench {p.hex[:6]}", zone, "en", 1)
                for pair in people
                for p, zone in zip(pair, ("America/New_York", "Europe/Berlin"), strict=True)
            ],
        )
        ids = [uuid.uuid4() for _ in people]
        await conn.copy_records_to_table(
            "mentorship",
            columns=[
                "id",
                "organization_id",
                "program_id",
                "match_id",
                "mentor_id",
                "mentee_id",
                "status",
                "cadence_days",
                "meeting_minutes",
                "started_at",
                "created_at",
                "version",
            ],
            records=[
                (i, org, uuid.uuid4(), uuid.uuid4(), mentor, mentee, "active", 14, 45, now, now, 1)
                for i, (mentor, mentee) in zip(ids, people, strict=True)
            ],
        )
        return [str(i) for i in ids]
    finally:
        await conn.close()


def bench_meetings(stack, baseline, seconds: int, *, admin_headers, write_lua) -> list[Figure]:
    org = uuid.uuid4()
    dsn = stack.service_database_url("sessions").replace("+asyncpg", "")
    ids = asyncio.run(_seed(dsn, org))
    first_slot = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    rounds = itertools.count()

    def ours_round() -> dict[str, float]:
        # Each round books a later month, so no round collides with an earlier one's slots.
        start = first_slot + timedelta(days=60 * next(rounds))
        return wrk(
            stack.service_url("sessions"),
            seconds=seconds,
            threads=THREADS,
            headers={**admin_headers(org), "Content-Type": "application/json"},
            script=_lua(ids, start),
        )

    ours, base = interleaved(
        ours_round,
        lambda: wrk(
            f"{baseline.url}/raw-insert",
            seconds=seconds,
            threads=THREADS,
            headers={"Content-Type": "application/json"},
            script=write_lua,
        ),
    )
    if ours["non_2xx"]:
        print(f"  note: {int(ours['non_2xx'])} meetings were refused", file=sys.stderr)
    return [
        Figure(
            "schedule a meeting: POST /sessions/mentorships/{id}/meetings "
            "(zones, conflict locks, outbox)",
            ours["rps"],
            base["rps"],
            "req/s",
            "one raw asyncpg INSERT",
            "report",
        )
    ]
