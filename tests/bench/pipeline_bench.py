"""Pipeline benchmark (issue 9): HTTP write -> outbox -> relay -> Kafka -> consumer commit.

Profiles writes `person.registered` events; matching's consumer applies them to its read model
and records each in its inbox in the same transaction, so `inbox_message.processed_at` is when an
event's effect committed (its transaction's start, as `outbox_message.created_at` is the writer's).
Every figure is read from those database timestamps, never from the client.

1. Sustained events/s: wrk POSTs people at fixed concurrency; the figure is matching's inbox
   commits per second while the load runs (after a warm-up). Baseline: pgbench, one single-row
   INSERT per transaction, same client count and duration, on the same Postgres.
2. Latency, outbox commit -> consumer commit, at 500 events/s for 5 s. This process writes the
   outbox rows `emit` writes (with its NOTIFY), one transaction each: the HTTP route cannot take
   500/s on two cores (figure 1) and the interval starts at the outbox commit anyway. It ends at
   the commit of matching's transaction (pg_xact_commit_timestamp; the stack's Postgres runs with
   track_commit_timestamp), and its steps are printed: the relay's batch begins, the relay
   commits, matching's transaction begins. Baseline:
   Kafka's EndToEndLatency (one record at a time, acks=all, records shaped like ours). Then again
   with both services recording one trace in ten (OTEL_TRACES_SAMPLER), what tracing costs.
3. Relay throughput: rows COPYed into profiles' outbox while the service is stopped, then timed
   from the relay's first batch to the last row marked published. Baseline: Kafka's
   ProducerPerformance with the same payloads and count, acks=all and our producer's linger and
   compression, on the same broker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure, admin_dsn, interleaved, sql, wrk

from trellis_infra.kafka import ensure_jars
from trellis_infra.postgres import pg_bindir
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.contracts import profiles as p
from trellis_shared.events import Event
from trellis_shared.kafka import PRODUCER_LINGER_MS, ensure_topics
from trellis_shared.outbox import _outbox_row, notify_channel

SERVICES = ("profiles", "matching")
REGISTERED = p.PersonRegistered.event_type
TOPIC = p.PersonRegistered.topic()
CLIENTS = 32
WARM_UP_S = 2.0
RATE = 500
P99_GOAL = "p99 <= 100 ms"
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
LATENCY_S = 5  # 2,500 events: the backlog drains in minutes at the consumer's pace
E2E_RECORDS = 1_000
RELAY_ROWS = 50_000
_COLUMNS = "event_id, event_type, topic, key, tenant, headers, payload, traceparent"


def bench_pipeline(stack, baseline, seconds: int, *, admin_headers, write_lua) -> list[Figure]:
    started = [s for s in SERVICES if not stack.service_running(s)]
    for service in started:
        stack.migrate(service)
        stack.start_service(service, wait=False)
    for service in started:
        stack.wait_ready(service)
    try:
        org = uuid.uuid4()
        headers = {**admin_headers(org), "Content-Type": "application/json"}
        url = f"{stack.service_url('profiles')}/profiles/people"
        asyncio.run(_drained(stack, first=lambda: _post_one(url, headers)))
        figures = _throughput(stack, seconds, url, headers, write_lua)
        figures += asyncio.run(_latency(stack))
        figures += _latency_sampled(stack)
        figures.append(_relay(stack))
        return figures
    finally:
        for service in started:
            stack.stop_service(service)


def _restart(stack, env: dict[str, str]) -> None:
    """Profiles and matching again, with `env` added to what they inherit from this process."""
    for service in SERVICES:
        stack.stop_service(service)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        for service in SERVICES:
            stack.start_service(service, wait=False)
        for service in SERVICES:
            stack.wait_ready(service)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _latency_sampled(stack) -> list[Figure]:
    """The latency again with one trace in ten recorded (the SDK's own sampler settings), as an
    operator would run at volume: by default every event's spans are recorded."""
    _restart(stack, SAMPLED)
    try:
        figures = asyncio.run(_latency(stack))
    finally:
        _restart(stack, {})
    return [
        dataclasses.replace(f, name=f"{f.name}, 1 in 10 traces sampled", goal="report")
        for f in figures
    ]


# -- 1. sustained events/s -------------------------------------------------------------------


def _throughput(stack, seconds: int, url: str, headers: dict, write_lua: str) -> list[Figure]:
    asyncio.run(sql(stack, _PGBENCH_TABLE, dsn=_service_dsn(stack)))
    window = max(1.0, seconds - WARM_UP_S)

    def ours() -> dict:
        began = datetime.now(UTC)
        load = wrk(url, seconds=seconds, connections=CLIENTS, headers=headers, script=write_lua)
        since = began + timedelta(seconds=seconds - window)
        committed = asyncio.run(_drained(stack, window=(since, since + timedelta(seconds=window))))
        _note(
            f"{load['rps']:.0f} writes/s over HTTP ({load['non_2xx']:.0f} non-2xx),"
            f" {committed / window:.0f} commits/s"
        )
        return {"rps": committed / window, "http": load["rps"]}

    run, base = interleaved(ours, lambda: {"rps": _pgbench(stack, seconds)})
    return [
        Figure(
            f"end-to-end events/s sustained, {CLIENTS} clients (POST /profiles/people -> outbox "
            f"-> relay -> Kafka -> matching's inbox commit; HTTP {run['http']:.0f} req/s)",
            run["rps"],
            base["rps"],
            "events/s",
            f"pgbench single-row INSERT TPS, {CLIENTS} clients",
            "ratio >= 0.25",
        )
    ]


_PGBENCH_TABLE = (
    "CREATE TABLE IF NOT EXISTS profiles.bench_pgbench_event (id bigint GENERATED ALWAYS AS"
    " IDENTITY PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


def _pgbench(stack, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(
            "INSERT INTO profiles.bench_pgbench_event (payload) VALUES (md5(random()::text))"
        )
        script.flush()
        flags = ["-n", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-f", script.name]
        pgbench = str(pg_bindir() / "pgbench")
        out = subprocess.run([pgbench, *flags, _service_dsn(stack)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr[-2000:]}")
    return float(re.search(r"tps = ([0-9.]+)", out.stdout).group(1))


# -- 2. latency at 500 events/s --------------------------------------------------------------


async def _latency(stack) -> list[Figure]:
    settings = ProfilesSettings(**stack.service_settings("profiles"))
    org = uuid.uuid4()
    # Built before the clock starts, and written without an ORM session: on two shared cores
    # this process, not the pipeline, would otherwise be the limit.
    outbox = [
        _outbox_row(Event.new(_person(i), tenant=org, source=settings.source))
        for i in range(RATE * LATENCY_S)
    ]
    pool = await asyncpg.create_pool(_service_dsn(stack), min_size=8, max_size=8)

    async def write(row: dict) -> None:
        await pool.execute(
            f"WITH o AS (INSERT INTO profiles.outbox_message ({_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)) SELECT pg_notify($9, '')",
            *(json.dumps(row[c]) if c == "headers" else row[c] for c in _COLUMNS.split(", ")),
            notify_channel(settings.db_schema),
        )

    loop = asyncio.get_running_loop()
    began, writes = loop.time(), []
    try:
        for i, row in enumerate(outbox):
            await asyncio.sleep(max(0.0, began + i / RATE - loop.time()))
            writes.append(asyncio.create_task(write(row)))
        await asyncio.gather(*writes)
    finally:
        await pool.close()
    reached = len(writes) / (loop.time() - began)
    await _drained(stack)
    rows = await sql(
        stack,
        # The consumer's commit, not its transaction's start (processed_at, the inbox row's
        # now()): the stack's Postgres records commit times (track_commit_timestamp). The outbox
        # row was written alone, so its now() is its commit; its xmin is now the relay's.
        "SELECT extract(epoch FROM pg_xact_commit_timestamp(i.xmin) - o.created_at)::float8"
        " * 1000 AS ms,"
        " extract(epoch FROM o.published_at - o.created_at)::float8 * 1000 AS picked_ms,"
        " extract(epoch FROM pg_xact_commit_timestamp(o.xmin) - o.created_at)::float8 * 1000"
        " AS relayed_ms,"
        " extract(epoch FROM i.processed_at - o.created_at)::float8 * 1000 AS fetched_ms,"
        " o.created_at, i.processed_at, length(o.payload) AS size, o.headers"
        " FROM profiles.outbox_message o"
        " JOIN matching.inbox_message i ON i.event_id = o.event_id AND i.consumer = 'matching'"
        " WHERE o.tenant = $1 ORDER BY o.id",
        org,
    )
    # The first second holds the consumer's first fetches after a quiet spell: not steady state.
    first = rows[0]["created_at"] + timedelta(seconds=1)
    steady = [r for r in rows if r["created_at"] >= first]
    ms = [r["ms"] for r in steady]
    cuts = statistics.quantiles(ms, n=100)
    # Where the time goes, each step from the outbox commit: the relay's batch that took the
    # row begins (published_at), the relay commits after Kafka acknowledged, matching's
    # transaction begins (processed_at) and commits.
    steps = {
        name: statistics.quantiles([r[f"{name}_ms"] for r in steady], n=100)
        for name in ("picked", "relayed", "fetched")
    }
    kafka = _end_to_end(stack, rows[: len(rows) // 10 or 1])
    spread = (rows[-1]["processed_at"] - rows[0]["processed_at"]).total_seconds()
    _note(
        f"{reached:.0f} events/s written of {RATE}; {len(ms)} events measured; matching"
        f" committed {len(rows) / max(spread, 1e-3):.0f}/s from first to last; p50 / p99 from"
        f" the outbox commit: relay batch begins {_cut(steps['picked'])}, relay commits"
        f" {_cut(steps['relayed'])}, consumer transaction begins {_cut(steps['fetched'])},"
        f" consumer commits {_cut(cuts)} ms"
    )
    name = f"outbox commit -> consumer commit at {reached:.0f} events/s (goal rate {RATE}/s)"
    return [
        Figure(f"{name}: p50", cuts[49], kafka["p50"], "ms", "EndToEndLatency p50"),
        Figure(f"{name}: p99", cuts[98], kafka["p99"], "ms", "EndToEndLatency p99", P99_GOAL),
    ]


def _cut(cuts: list[float]) -> str:
    return f"{cuts[49]:.1f} / {cuts[98]:.1f}"


def _person(i: int) -> p.PersonRegistered:
    return p.PersonRegistered(
        person_id=uuid.uuid4(),
        full_name=f"Paced Person {i}",
        email=f"paced{i}.{uuid.uuid4().hex[:6]}@example.org",
        time_zone="Europe/Paris",
        locale="en",
        languages=["en", "fr"],
        registered_at=datetime.now(UTC),
    )


def _end_to_end(stack, sample: list) -> dict[str, float]:
    """Kafka's own round trip, one record at a time, with records shaped like our events."""
    headers = [json.loads(r["headers"]) for r in sample]
    count = round(statistics.mean(len(h) for h in headers))
    key_size = round(statistics.mean(len(k) for h in headers for k in h))
    value_size = round(statistics.mean(len(v) for h in headers for v in h.values()))
    args = {
        "--bootstrap-server": stack.kafka_bootstrap,
        "--topic": f"bench.e2e.{uuid.uuid4().hex[:8]}",
        "--num-records": E2E_RECORDS,
        "--producer-acks": "all",
        "--record-size": round(statistics.mean(r["size"] for r in sample)),
        "--record-key-size": 36,
        "--num-headers": count,
        "--record-header-key-size": key_size,
        "--record-header-size": value_size,
    }
    out = _kafka_tool(stack, "EndToEndLatency", [str(x) for kv in args.items() for x in kv])
    found = re.search(r"50th = ([0-9.]+), 99th = ([0-9.]+)", out)
    return {"p50": float(found.group(1)), "p99": float(found.group(2))}


# -- 3. relay throughput ---------------------------------------------------------------------


def _relay(stack) -> Figure:
    settings = ProfilesSettings(**stack.service_settings("profiles"))
    ours_topic, perf_topic = (f"bench.{n}.{uuid.uuid4().hex[:8]}" for n in ("relay", "perf"))
    asyncio.run(
        ensure_topics(
            stack.kafka_bootstrap, [ours_topic, perf_topic], partitions=settings.topic_partitions
        )
    )
    stack.stop_service("profiles")  # its relay would publish the rows while they are seeded
    payloads = asyncio.run(_seed(stack, ours_topic))
    with tempfile.NamedTemporaryFile("wb", suffix=".payloads") as file:
        file.write(b"\n".join(payloads))
        file.flush()
        args = {
            "--bootstrap-server": stack.kafka_bootstrap,
            "--topic": perf_topic,
            "--num-records": RELAY_ROWS,
            "--throughput": -1,
            "--payload-file": file.name,
        }
        out = _kafka_tool(
            stack,
            "ProducerPerformance",
            [str(x) for kv in args.items() for x in kv]
            + ["--command-property", "acks=all", f"linger.ms={PRODUCER_LINGER_MS}"]
            + ["compression.type=gzip"],
        )
    base = float(re.findall(r"\d+ records sent, ([0-9.]+) records/sec", out)[-1])
    stack.start_service("profiles", wait=False)
    try:
        elapsed = asyncio.run(_published(stack, ours_topic))
    finally:
        asyncio.run(sql(stack, "DELETE FROM profiles.outbox_message WHERE topic = $1", ours_topic))
    return Figure(
        f"relay publish throughput, {RELAY_ROWS:,} outbox rows"
        f" (batches of {settings.relay_batch_size})",
        RELAY_ROWS / elapsed,
        base,
        "events/s",
        "ProducerPerformance acks=all, same payloads",
    )


async def _seed(stack, topic: str) -> list[bytes]:
    """RELAY_ROWS copies of the real events of figures 1 and 2, under new ids (not timed)."""
    conn = await asyncpg.connect(admin_dsn(stack))
    try:
        columns = ["event_type", "key", "tenant", "headers", "payload"]
        real = await conn.fetch(
            f"SELECT {', '.join(columns)} FROM profiles.outbox_message"
            " WHERE topic = $1 ORDER BY id DESC LIMIT 1000",
            TOPIC,
        )
        await conn.copy_records_to_table(
            "outbox_message",
            schema_name="profiles",
            records=[(uuid.uuid4(), topic, *real[i % len(real)]) for i in range(RELAY_ROWS)],
            columns=["event_id", "topic", *columns],
        )
        return [r["payload"] for r in real if b"\n" not in r["payload"]]
    finally:
        await conn.close()


async def _published(stack, topic: str, timeout: float = 600) -> float:
    """Seconds from the relay's first batch (its transaction's start) to the last row marked."""
    conn = await asyncpg.connect(admin_dsn(stack))
    try:
        deadline = time.monotonic() + timeout
        while await conn.fetchval(
            "SELECT count(*) FROM profiles.outbox_message"
            " WHERE published_at IS NULL AND topic = $1",
            topic,
        ):
            if time.monotonic() > deadline or not stack.service_running("profiles"):
                raise RuntimeError("the relay did not publish every seeded row")
            await asyncio.sleep(0.05)
        done = datetime.now(UTC)
        first = await conn.fetchval(
            "SELECT min(published_at) FROM profiles.outbox_message WHERE topic = $1", topic
        )
        return (done - first).total_seconds()
    finally:
        await conn.close()


# -- shared ----------------------------------------------------------------------------------


async def _drained(stack, *, first=None, window=None, stall_s: float = 60) -> int:
    """Wait until matching has committed every person.registered in profiles' outbox (while it
    makes progress); returns how many of those commits fall in `window` (two datetimes)."""
    conn = await asyncpg.connect(admin_dsn(stack))
    try:
        if first is not None:
            await first()
        moved, last = time.monotonic(), -1
        while True:
            written, done = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM profiles.outbox_message"
                " WHERE event_type = $1 AND topic = $2), (SELECT count(*)"
                " FROM matching.inbox_message WHERE event_type = $1 AND consumer = 'matching')",
                REGISTERED,
                TOPIC,
            )
            if done >= written:
                break
            if done != last:
                moved, last = time.monotonic(), done
            elif time.monotonic() - moved > stall_s:
                raise RuntimeError(f"matching stalled {written - done} events behind")
            await asyncio.sleep(0.2)
        if window is None:
            return 0
        return await conn.fetchval(
            "SELECT count(*) FROM matching.inbox_message WHERE event_type = $1"
            " AND consumer = 'matching' AND processed_at >= $2 AND processed_at < $3",
            REGISTERED,
            *window,
        )
    finally:
        await conn.close()


async def _post_one(url: str, headers: dict) -> None:
    body = {"full_name": "Warm Up", "email": f"warm.{uuid.uuid4().hex[:8]}@example.org"}
    async with httpx.AsyncClient(timeout=60) as client:
        (await client.post(url, json=body, headers=headers)).raise_for_status()


def _service_dsn(stack) -> str:
    return stack.service_database_url("profiles").replace("postgresql+asyncpg", "postgresql")


def _kafka_tool(stack, cls: str, args: list[str]) -> str:
    libs = ensure_jars(stack.config.cache_dir)
    result = subprocess.run(
        ["java", "-cp", f"{libs}/*", f"org.apache.kafka.tools.{cls}", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{cls} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def _note(text: str) -> None:
    print(f"  pipeline: {text}", file=sys.stderr, flush=True)
