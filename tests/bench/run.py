"""`make bench`: Trellis measured against baselines in the same run; prints a table, writes JSON.

Benchmarks never fail the build: a missed goal is printed (and said in the README), not raised.
Usage: python tests/bench/run.py [--only read,write,import] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import subprocess
import sys
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure, interleaved_runs, notifications_replicas, report, sql, wrk
from matching_bench import bench_matching
from meetings_bench import bench_meetings
from pipeline_bench import bench_pipeline
from reminders_bench import bench_reminders
from sessions_bench import bench_sessions
from webhooks_bench import bench_webhooks

from trellis_infra import proc
from trellis_infra.kafka import KAFKA_VERSION
from trellis_infra.pytest_plugin import skip_history
from trellis_infra.stack import REPO_ROOT, SERVICES, Stack, StackConfig
from trellis_notifications import handlers
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.auth import mint_token
from trellis_shared.settings import DEV_JWT_SECRET

# As in pytest's settings (pyproject.toml): SQLModel nudges every Core statement towards
# session.exec(); the benchmarks that run service code in-process would print it ten thousand times.
warnings.filterwarnings(
    "ignore", message=r"(?s).*You probably want to use `session.exec", category=DeprecationWarning
)

BASELINE_PORT = int(os.environ.get("TRELLIS_BENCH_BASELINE_PORT", 58090))
WELCOME_REPLICAS = 2
WELCOME_TIMEOUT_S = 900.0


def bench_stack() -> Stack:
    base = int(os.environ.get("TRELLIS_BENCH_SERVICE_PORT_BASE", 58000))
    return Stack(
        StackConfig(
            name=os.environ.get("TRELLIS_BENCH_STACK_NAME", "bench"),
            pg_port=int(os.environ.get("TRELLIS_BENCH_PG_PORT", 54433)),
            kafka_port=int(os.environ.get("TRELLIS_BENCH_KAFKA_PORT", 59092)),
            controller_port=int(os.environ.get("TRELLIS_BENCH_KAFKA_CONTROLLER_PORT", 59093)),
            gateway_port=int(os.environ.get("TRELLIS_BENCH_GATEWAY_PORT", 58080)),
            service_ports={s: base + i + 1 for i, s in enumerate(SERVICES)},
            database="trellis_bench",
        )
    )


class Baseline:
    """The baseline apps, each served by uvicorn in its own process like a service: the bare
    Starlette routes (baseline_app.py, at `url`) and the least a route costs on the services' own
    stack (floor_app.py, at `floor_url`)."""

    APPS = {"baseline_app": BASELINE_PORT, "floor_app": BASELINE_PORT + 1}

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.url = f"http://127.0.0.1:{self.APPS['baseline_app']}"
        self.floor_url = f"http://127.0.0.1:{self.APPS['floor_app']}"

    def _pid_file(self, app: str) -> Path:
        return self.stack.config.state_dir / "run" / f"{app}.pid"

    def start(self) -> None:
        state = self.stack.config.state_dir
        env = {
            **os.environ,
            "BENCH_BASELINE_DSN": stack_dsn(self.stack),
            "BENCH_FLOOR_TRACE_FILE": str(state / "traces" / "floor.jsonl"),
        }
        for app, port in self.APPS.items():
            proc.spawn(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"{app}:app",
                    "--port",
                    f"{port}",
                    "--no-access-log",
                ],
                log_file=state / "logs" / f"{app}.log",
                pid_file=self._pid_file(app),
                env=env,
                cwd=Path(__file__).parent,
            )
        for app, port in self.APPS.items():
            proc.wait_port("127.0.0.1", port, timeout=30, proc_pid_file=self._pid_file(app))

    def stop(self) -> None:
        for app in self.APPS:
            proc.stop(self._pid_file(app))


def stack_dsn(stack: Stack) -> str:
    return stack.service_database_url("profiles").replace("+asyncpg", "")


def admin_headers(org: uuid.UUID) -> dict[str, str]:
    return {
        "Authorization": "Bearer "
        + mint_token(secret=DEV_JWT_SECRET, sub="bench", org=org, roles=["org_admin"], ttl_s=7200)
    }


def member_headers(org: uuid.UUID) -> dict[str, str]:
    token = mint_token(
        secret=DEV_JWT_SECRET, sub=str(uuid.uuid4()), org=org, roles=["member"], ttl_s=7200
    )
    return {"Authorization": f"Bearer {token}"}


def person_body(i: int) -> dict:
    return {
        "full_name": f"Bench Person {i}",
        "email": f"bench{i}.{uuid.uuid4().hex[:6]}@example.org",
        "time_zone": "Europe/Paris",
        "languages": ["en", "fr"],
        "skills": [
            {"name": "python", "level": "advanced"},
            {"name": "sql", "level": "intermediate"},
        ],
    }


def bench_read(stack: Stack, baseline: Baseline, seconds: int) -> list[Figure]:
    org = uuid.uuid4()
    url = stack.service_url("profiles")
    created = httpx.post(
        f"{url}/profiles/people", json=person_body(0), headers=admin_headers(org), timeout=30
    )
    created.raise_for_status()
    person = created.json()["id"]
    headers = member_headers(org)
    floor_url = f"{baseline.floor_url}/floor/people/{person}"
    httpx.get(floor_url, headers=headers, timeout=30).raise_for_status()  # errors are no floor
    # Beside the bare JSON route, where the floors are: the same row read with one raw asyncpg
    # SELECT by a bare route, and by a traced, authenticated FastAPI route (floor_app.py).
    ours, floor, select, bare = interleaved_runs(
        lambda: wrk(f"{url}/profiles/people/{person}", seconds=seconds, headers=headers),
        lambda: wrk(floor_url, seconds=seconds, headers=headers),
        lambda: wrk(f"{baseline.url}/person/{org}/{person}", seconds=seconds),
        lambda: wrk(f"{baseline.url}/json", seconds=seconds),
    )
    _note_errors("read", profiles=ours, floor=floor, select=select)
    return [
        Figure(
            "authenticated read: GET /profiles/people/{id}",
            ours["rps"],
            bare["rps"],
            "req/s",
            "bare Starlette JSON route",
            "ratio >= 0.5",
        ),
        Figure(
            "... floor: a bare route reading the row with one raw asyncpg SELECT",
            select["rps"],
            bare["rps"],
            "req/s",
            "bare Starlette JSON route",
        ),
        Figure(
            "... floor: traced FastAPI route, our auth, the same one SELECT",
            floor["rps"],
            bare["rps"],
            "req/s",
            "bare Starlette JSON route",
        ),
    ]


def _note_errors(benchmark: str, **runs: dict) -> None:
    for name, run in runs.items():
        if run["non_2xx"]:
            print(
                f"  note: {int(run['non_2xx'])} non-2xx answers from {name} ({benchmark})",
                file=sys.stderr,
            )


_WRITE_LUA = """
counter = 0
init = function(args)
  -- Each wrk thread has its own Lua state; a table's address differs between them.
  math.randomseed(os.time() + tonumber(string.sub(tostring({}), 10), 16) % 100000)
end
request = function()
  counter = counter + 1
  local email = string.format("w%d-%d-%d@example.org", counter, math.random(1, 1e9), os.time())
  local body = string.format('{"full_name": "Bench Writer %d", "email": "%s"}', counter, email)
  return wrk.format("POST", nil, nil, body)
end
"""


async def _prepare_raw_table(stack: Stack) -> None:
    conn = await asyncpg.connect(stack_dsn(stack))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_person"
            " (id uuid PRIMARY KEY, full_name text NOT NULL, email text NOT NULL)"
        )
        await conn.execute("TRUNCATE bench_raw_person")
    finally:
        await conn.close()


def bench_write(stack: Stack, baseline: Baseline, seconds: int) -> list[Figure]:
    asyncio.run(_prepare_raw_table(stack))
    org = uuid.uuid4()
    headers = {**admin_headers(org), "Content-Type": "application/json"}
    floor_url = f"{baseline.floor_url}/floor/people"
    httpx.post(floor_url, json=person_body(0), headers=headers, timeout=30).raise_for_status()
    # Beside the raw INSERT route, where the floor is: a traced, authenticated FastAPI route that
    # validates the same body with the profile's own model and does the same one INSERT.
    ours, floor, raw = interleaved_runs(
        lambda: wrk(
            f"{stack.service_url('profiles')}/profiles/people",
            seconds=seconds,
            headers=headers,
            script=_WRITE_LUA,
        ),
        lambda: wrk(
            floor_url,
            seconds=seconds,
            headers=headers,
            script=_WRITE_LUA,
        ),
        lambda: wrk(
            f"{baseline.url}/raw-insert",
            seconds=seconds,
            headers={"Content-Type": "application/json"},
            script=_WRITE_LUA,
        ),
    )
    _note_errors("write", profiles=ours, floor=floor, raw=raw)
    return [
        Figure(
            "profile write: POST /profiles/people (validation, ORM, outbox)",
            ours["rps"],
            raw["rps"],
            "req/s",
            "one raw asyncpg INSERT",
            "ratio >= 0.5",
        ),
        Figure(
            "... floor: traced FastAPI route, our auth, the same body model, one raw INSERT",
            floor["rps"],
            raw["rps"],
            "req/s",
            "one raw asyncpg INSERT",
        ),
    ]


def _import_rows(n: int) -> list[dict]:
    tag = uuid.uuid4().hex[:6]
    return [
        {
            "external_id": f"hr-{tag}-{i}",
            "full_name": f"Imported Person {i}",
            "email": f"imp{i}.{tag}@example.org",
            "time_zone": "America/New_York",
            "languages": "en;es",
            "skills": "python:advanced;sql:beginner",
        }
        for i in range(n)
    ]


async def _copy_baseline(stack: Stack, rows: list[dict]) -> float:
    conn = await asyncpg.connect(stack_dsn(stack))
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_copy_person")
        await conn.execute("CREATE TABLE bench_copy_person (LIKE person INCLUDING ALL)")
        org = uuid.uuid4()
        now = datetime.now(UTC)
        records = [
            (
                uuid.uuid4(),
                org,
                r["full_name"],
                r["email"],
                r["time_zone"],
                "en",
                r["external_id"],
                r["languages"].split(";"),
                now,
                now,
            )
            for r in rows
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_copy_person",
            records=records,
            columns=[
                "id",
                "organization_id",
                "full_name",
                "email",
                "time_zone",
                "locale",
                "external_id",
                "languages",
                "created_at",
                "updated_at",
            ],
        )
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_copy_person")
        await conn.close()


def bench_import(
    stack: Stack, baseline: Baseline, seconds: int, rows: int = 10_000
) -> list[Figure]:
    """Import `rows` people from one CSV, with notifications running as in production (two
    replicas, an SMTP sink): the import's rate, then how soon after its start every person has
    their welcome in the inbox (and its email queued), and every welcome email reached SMTP."""
    data = _import_rows(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(data[0]))
    writer.writeheader()
    writer.writerows(data)
    org = uuid.uuid4()
    url = stack.service_url("profiles")
    stack.migrate("notifications")
    notifications = NotificationsSettings(**stack.service_settings("notifications"))
    # The replicas start after what earlier benchmarks published (other organizations' people).
    asyncio.run(skip_history(notifications, handlers.subscriptions.topics))
    with notifications_replicas(stack, WELCOME_REPLICAS):
        began = asyncio.run(sql(stack, "SELECT clock_timestamp()"))[0][0]
        started = time.perf_counter()
        response = httpx.post(
            f"{url}/profiles/imports",
            content=buffer.getvalue().encode(),
            headers={**admin_headers(org), "Content-Type": "text/csv"},
            timeout=120,
        )
        response.raise_for_status()
        job_url = f"{url}/profiles/imports/{response.json()['id']}"
        while True:
            job = httpx.get(job_url, headers=admin_headers(org), timeout=30).json()
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(0.2)
        imported_s = time.perf_counter() - started
        if job["status"] != "completed" or job.get("failed_rows"):
            print(
                f"  note: import ended {job['status']} with {job.get('failed_rows')} failed rows",
                file=sys.stderr,
            )
        welcomed_s, sent_s = asyncio.run(_welcomed(stack, org, rows, began))
    base = asyncio.run(_copy_baseline(stack, data))
    print(
        f"  import {imported_s:.1f} s; welcomed {welcomed_s:.1f} s, emails sent {sent_s:.1f} s"
        " after the import's start",
        file=sys.stderr,
    )
    return [
        Figure(
            f"import {rows:,} people (upsert, events)",
            rows / imported_s,
            base,
            "people/s",
            "COPY of the same rows",
            "report",
        ),
        Figure(
            f"... every one of the {rows:,} welcomed (inbox item + email queued) from its start",
            rows / welcomed_s,
            rows / imported_s,
            "people/s",
            "the import itself",
            "report",
        ),
        Figure(
            f"... every welcome email accepted by SMTP, from its start ({WELCOME_REPLICAS}"
            " notifications replicas)",
            rows / sent_s,
            rows / imported_s,
            "people/s",
            "the import itself",
            "report",
        ),
    ]


async def _welcomed(
    stack: Stack, org: uuid.UUID, rows: int, began: datetime
) -> tuple[float, float]:
    """Seconds from `began` to the last welcome written, and to the last welcome email sent."""
    deadline = time.monotonic() + WELCOME_TIMEOUT_S
    query = (
        "SELECT (SELECT count(*) FROM notifications.inbox_item"
        "        WHERE organization_id = $1 AND kind = 'welcome'),"
        "       (SELECT max(created_at) FROM notifications.inbox_item"
        "        WHERE organization_id = $1 AND kind = 'welcome'),"
        "       (SELECT count(*) FROM notifications.email_delivery"
        "        WHERE organization_id = $1 AND template = 'welcome' AND status = 'sent'),"
        "       (SELECT max(sent_at) FROM notifications.email_delivery"
        "        WHERE organization_id = $1 AND template = 'welcome')"
    )
    while True:
        [(welcomed, last_welcome, sent, last_sent)] = await sql(stack, query, org)
        if welcomed >= rows and sent >= rows:
            return (last_welcome - began).total_seconds(), (last_sent - began).total_seconds()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"after {WELCOME_TIMEOUT_S:.0f} s: {welcomed} of {rows} welcomed, {sent} sent"
            )
        await asyncio.sleep(0.5)


def _bench_meetings(stack: Stack, baseline: Baseline, seconds: int) -> list[Figure]:
    asyncio.run(_prepare_raw_table(stack))
    return bench_meetings(
        stack, baseline, seconds, admin_headers=admin_headers, write_lua=_WRITE_LUA
    )


BENCHMARKS = {
    "read": bench_read,
    "write": bench_write,
    "import": bench_import,
    "matching": bench_matching,
    "sessions": bench_sessions,
    "meetings": lambda stack, baseline, seconds: _bench_meetings(stack, baseline, seconds),
    "reminders": bench_reminders,
    "webhooks": bench_webhooks,
    "pipeline": lambda stack, baseline, seconds: bench_pipeline(
        stack, baseline, seconds, admin_headers=admin_headers, write_lua=_WRITE_LUA
    ),
}
# Benchmarks that need the platform running; the others are pure computations.
NEEDS_STACK = {"read", "write", "import", "meetings"}
# Benchmarks that need Postgres (and migrate their own service) but no service running.
# (pipeline starts and stops the services it needs itself: profiles and matching.)
NEEDS_INFRA = {"sessions", "reminders", "webhooks", "pipeline"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ",".join(BENCHMARKS)
    )
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = parser.parse_args()
    stack = bench_stack()
    baseline = Baseline(stack)
    figures: list[Figure] = []
    selected = args.only.split(",")
    with_stack = bool(NEEDS_STACK.intersection(selected))
    with_infra = with_stack or bool(NEEDS_INFRA.intersection(selected))
    try:
        if with_stack:
            services = ("profiles", "sessions") if "meetings" in selected else ("profiles",)
            stack.up(services=services, gateway=False)
            baseline.start()
        elif with_infra:
            stack.start_infra()
        for name in selected:
            print(f"running {name} ...", file=sys.stderr)
            try:
                figures += BENCHMARKS[name](stack, baseline, args.seconds)
            except Exception as exc:  # one broken benchmark must not hide the others
                print(f"  {name} failed: {exc}", file=sys.stderr)
    finally:
        if with_stack:
            baseline.stop()
        if with_infra and not args.keep:
            stack.down()
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    text = report(figures, {"kafka": KAFKA_VERSION, "postgres": pg}, REPO_ROOT / "bench-results")
    print(text)
    print(f"\n(JSON: {REPO_ROOT / 'bench-results' / 'latest.json'})")


if __name__ == "__main__":
    main()
