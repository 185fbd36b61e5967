"""Reminders benchmark (issues 6 and 9): 10,000 reminders due in the same minute.

Seeds (COPY, not timed) 10,000 people with email addresses in notifications' directory, 5,000
meetings an hour ahead and a 60-minute reminder for each participant. The notifications service
runs as it does in production - two replicas as real processes, each with its reminders worker
and its email worker, sending to a local SMTP sink - and the reminders are all made due at the
same instant (the start of "the minute": meetings start on the hour, so their reminders come due
together). Measured from that instant: the time until every reminder is delivered (its inbox
item written and its email queued), and until every email has been accepted by the SMTP server.
Goal: 60 s. Baseline, in the same run: the same number of plain INSERTs of inbox rows in one
transaction - the least any delivery costs.

Usage: python tests/bench/run.py --only reminders
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure, notifications_replicas

N = 10_000
ORGS = 10
LEAD = 60
REPLICAS = 2
GOAL_S = 60.0
TIMEOUT_S = 300.0
DUE_IN_S = 2.0  # the replicas are up and idle; the reminders come due this long after the update


def bench_reminders(stack, baseline: object, seconds: int) -> list[Figure]:
    stack.migrate("notifications")
    dsn, schema = _dsn(stack)
    base_s = asyncio.run(_baseline(dsn, schema))
    org_ids = asyncio.run(_seed(dsn, schema))
    with notifications_replicas(stack, REPLICAS):
        delivered_s, sent_s = asyncio.run(_measure(dsn, schema, org_ids))
    _note(
        f"{N:,} reminders: delivered {delivered_s:.1f} s, emails sent "
        f"{'-' if sent_s is None else f'{sent_s:.1f}'} s; baseline {base_s:.2f} s"
    )
    figures = [
        Figure(
            f"reminders: {N:,} due at once, {REPLICAS} replicas: inbox item + email queued",
            N / delivered_s,
            N / base_s,
            "reminders/s",
            "plain INSERTs of inbox rows, one transaction",
        ),
        Figure(
            f"reminders: {GOAL_S:.0f} s goal / time until all {N:,} delivered (inbox + queued)",
            GOAL_S,
            delivered_s,
            "s",
            "time from the minute's start",
            "ratio >= 1",
        ),
    ]
    if sent_s is not None:
        figures.append(
            Figure(
                f"reminders: {GOAL_S:.0f} s goal / time until all {N:,} emails reached SMTP",
                GOAL_S,
                sent_s,
                "s",
                "time from the minute's start",
                "ratio >= 1",
            )
        )
    return figures


def _dsn(stack) -> tuple[str, str]:
    settings = stack.service_settings("notifications")
    dsn = settings["database_url"].replace("postgresql+asyncpg://", "postgresql://", 1)
    return dsn, settings["db_schema"]


async def _connect(dsn: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"search_path": schema})


async def _baseline(dsn: str, schema: str) -> float:
    """N plain INSERTs of inbox rows in one transaction (the best of two runs)."""
    conn = await _connect(dsn, schema)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_inbox_item")
        await conn.execute("CREATE TABLE bench_inbox_item (LIKE inbox_item INCLUDING ALL)")
        org, now = uuid.uuid4(), datetime.now(UTC)
        best = float("inf")
        for _ in range(2):
            kind, category = "meeting_reminder", "reminders"
            title, body = "Reminder: meeting with Bench Mentor in 1 hour", "Hi,\n\nYour meeting"
            ids = [(uuid.uuid4(), org, uuid.uuid4(), uuid.uuid4()) for _ in range(N)]
            rows = [(*i, kind, category, title, body, now) for i in ids]
            started = time.perf_counter()
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bench_inbox_item (id, organization_id, person_id, "
                    "source_event_id, kind, category, title, body, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    rows,
                )
            best = min(best, time.perf_counter() - started)
            await conn.execute("TRUNCATE bench_inbox_item")
        return best
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_inbox_item")
        await conn.close()


async def _seed(dsn: str, schema: str) -> list[uuid.UUID]:
    """People, meetings and reminders, due a day from now until the measurement makes them due."""
    orgs = [uuid.uuid4() for _ in range(ORGS)]
    now = datetime.now(UTC)
    starts, later = now + timedelta(hours=1), now + timedelta(days=1)
    zones = ("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC")
    people, meetings, reminders = [], [], []
    for i in range(N // 2):
        org, meeting = orgs[i % ORGS], uuid.uuid4()
        pair = {"mentor_id": uuid.uuid4(), "mentee_id": uuid.uuid4()}
        for n, person in enumerate(pair.values(), start=2 * i):
            email = f"bench{n}.{person.hex[:6]}@example.org"
            people.append(
                {"id": person, "organization_id": org, "full_name": f"Bench Person {n}"}
                | {"email": email, "time_zone": zones[n % len(zones)], "version": 1}
            )
        meetings.append(
            {"id": meeting, "organization_id": org, "mentorship_id": uuid.uuid4()}
            | {"program_id": uuid.uuid4(), **pair, "starts_at": starts}
            | {"ends_at": starts + timedelta(minutes=45), "time_zone": "Europe/Paris"}
            | {"mode": "video", "sequence": 0, "status": "scheduled"}
        )
        for role, other in (("mentor", "mentee"), ("mentee", "mentor")):
            rid = uuid.uuid4()
            reminders.append(
                {"id": rid, "organization_id": org, "person_id": pair[f"{role}_id"]}
                | {"other_id": pair[f"{other}_id"], "role": role, "meeting_id": meeting}
                | {"lead_minutes": LEAD, "starts_at": starts, "sequence": 0, "due_at": later}
                | {"status": "scheduled", "source_id": rid}
            )
    conn = await _connect(dsn, schema)
    try:
        started = time.perf_counter()
        for table, rows in (
            ("person_view", people),
            ("meeting_view", meetings),
            ("reminder", reminders),
        ):
            records = [tuple(row.values()) for row in rows]
            await conn.copy_records_to_table(table, records=records, columns=list(rows[0]))
        await conn.execute("ANALYZE person_view, meeting_view, reminder")
        _note(f"seeded {N:,} people and reminders in {time.perf_counter() - started:.1f} s")
        return orgs
    finally:
        await conn.close()


_PROGRESS = """
SELECT (SELECT count(*) FROM inbox_item WHERE organization_id = ANY($1)
          AND kind = 'meeting_reminder') AS inbox,
       (SELECT count(*) FROM email_delivery WHERE organization_id = ANY($1)
          AND template = 'meeting_reminder') AS emails,
       (SELECT count(*) FROM email_delivery WHERE organization_id = ANY($1)
          AND template = 'meeting_reminder' AND status = 'sent') AS sent
"""


async def _measure(dsn: str, schema: str, orgs: list[uuid.UUID]) -> tuple[float, float | None]:
    conn = await _connect(dsn, schema)
    try:
        due = datetime.now(UTC) + timedelta(seconds=DUE_IN_S)
        await conn.execute(
            "UPDATE reminder SET due_at = $1 WHERE organization_id = ANY($2)", due, orgs
        )
        delivered = sent = None
        while True:
            row = await conn.fetchrow(_PROGRESS, orgs)
            elapsed = (datetime.now(UTC) - due).total_seconds()
            if delivered is None and row["inbox"] >= N and row["emails"] >= N:
                delivered = elapsed
            if row["sent"] >= N:
                sent = elapsed
                break
            if elapsed > TIMEOUT_S:
                _note(f"gave up after {TIMEOUT_S:.0f} s: {dict(row)}")
                break
            await asyncio.sleep(0.1)
        return (delivered if delivered is not None else float("inf")), sent
    finally:
        await _forget(conn, orgs)
        await conn.close()


async def _forget(conn: asyncpg.Connection, orgs: list[uuid.UUID]) -> None:
    for table in ("reminder", "meeting_view", "inbox_item", "email_delivery", "person_view"):
        await conn.execute(f"DELETE FROM {table} WHERE organization_id = ANY($1)", orgs)


def _note(text: str) -> None:
    print(f"  {text}", file=sys.stderr)


if __name__ == "__main__":
    from run import bench_stack

    stack = bench_stack()
    stack.start_infra()
    try:
        for figure in bench_reminders(stack, None, 0):
            print(figure)
    finally:
        if not os.environ.get("TRELLIS_BENCH_KEEP"):
            stack.down()
