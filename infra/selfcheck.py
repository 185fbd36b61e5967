"""Dev aid: start each piece of the local infrastructure on spare ports and prove it works.

    uv run python infra/selfcheck.py

Postgres (isolated service roles), Kafka (aiokafka idempotent producer + consumer group,
survives kill -9) and the nginx gateway (routing, problem+json 404, 429 under a burst).
Everything it starts is stopped at the end, pass or fail.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from trellis_infra import proc
from trellis_infra.gateway import Gateway
from trellis_infra.kafka import KAFKA_VERSION, Kafka, ensure_jars
from trellis_infra.postgres import Postgres

ROOT = Path("/tmp/trellis-selfcheck")
CACHE = Path(__file__).resolve().parents[1] / ".trellis" / "cache"
TOPIC = "trellis.selfcheck.events"


def step(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def ok(msg: str) -> None:
    print(f"   ok: {msg}", flush=True)


async def check_postgres(pg: Postgres) -> None:
    step("postgres")
    t = time.monotonic()
    pg.start()
    ok(f"started on {pg.port} in {time.monotonic() - t:.1f}s (running={pg.running()})")
    pg.start()  # idempotent
    await pg.ensure_database("trellis")
    await pg.ensure_database("trellis")
    for svc in ("alpha", "beta"):
        for _ in range(2):  # idempotent
            await pg.ensure_service_role(
                database="trellis", role=f"{svc}_svc", password=f"{svc}-pw", schema=svc
            )
    a = await asyncpg.connect(pg.dsn(user="alpha_svc", password="alpha-pw", database="trellis"))
    b = await asyncpg.connect(pg.dsn(user="beta_svc", password="beta-pw", database="trellis"))
    try:
        await b.execute("CREATE TABLE IF NOT EXISTS secrets (id int PRIMARY KEY, v text)")
        await b.execute("INSERT INTO secrets VALUES (1, 'beta-only') ON CONFLICT DO NOTHING")
        ok(
            f"beta search_path={await b.fetchval('SHOW search_path')}, "
            f"reads own table: {await b.fetchval('SELECT v FROM secrets')}"
        )
        await a.execute("CREATE TABLE IF NOT EXISTS mine (id int)")
        made = await a.fetchval("SELECT to_regclass('mine')::text")
        ok(f"alpha creates in own schema: {made}")
        for sql in (
            "SELECT * FROM beta.secrets",
            "CREATE TABLE public.intruder (id int)",
            "CREATE TABLE beta.intruder (id int)",
            "CREATE TEMP TABLE t (id int)",
        ):
            try:
                await a.execute(sql)
            except asyncpg.InsufficientPrivilegeError as exc:
                ok(f"alpha: {sql!r} -> {type(exc).__name__}: {exc}")
            else:
                raise AssertionError(f"alpha was allowed: {sql}")
        try:
            await asyncpg.connect(pg.dsn(user="alpha_svc", password="wrong", database="trellis"))
        except asyncpg.InvalidPasswordError as exc:
            ok(f"wrong password refused: {exc}")
        else:
            raise AssertionError("wrong password accepted")
    finally:
        await a.close()
        await b.close()

    # Durability across a crash: commit, kill -9, restart, read back.
    conn = await asyncpg.connect(pg.dsn(user="alpha_svc", password="alpha-pw", database="trellis"))
    await conn.execute("INSERT INTO mine VALUES (42)")
    await conn.close()
    pg.kill9()
    ok(f"kill9 -> running={pg.running()}")
    t = time.monotonic()
    pg.start()
    conn = await asyncpg.connect(pg.dsn(user="alpha_svc", password="alpha-pw", database="trellis"))
    n = await conn.fetchval("SELECT count(*) FROM mine WHERE id = 42")
    await conn.close()
    assert n >= 1, n
    ok(f"restarted after kill -9 in {time.monotonic() - t:.1f}s; committed row survived")
    pg.restart()
    ok(f"restart() -> running={pg.running()}")


async def produce_consume(kafka: Kafka, count: int, group: str) -> None:
    compression = "lz4" if importlib.util.find_spec("lz4") else "gzip"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=compression,
    )
    await producer.start()
    run_id = str(time.time_ns())
    try:
        futures = [
            await producer.send(
                TOPIC,
                key=f"k{i % 17}".encode(),
                value=json.dumps({"i": i, "run": run_id}).encode(),
                headers=[
                    ("ce_type", b"trellis.selfcheck.ping.v1"),
                    ("ce_id", f"{run_id}-{i}".encode()),
                ],
            )
            for i in range(count)
        ]
        metas = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    parts = sorted({m.partition for m in metas})
    ok(f"produced {count} ({compression}, acks=all, idempotent) to partitions {parts}")

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    body = json.loads(r.value)
                    headers = dict(r.headers)
                    if body["run"] == run_id:
                        assert headers["ce_type"] == b"trellis.selfcheck.ping.v1"
                        seen.add(body["i"])
            if batch:
                await consumer.commit()
        assert len(seen) == count, f"consumed {len(seen)} of {count}"
        committed = {p: await consumer.committed(TopicPartition(TOPIC, p)) for p in parts}
    finally:
        await consumer.stop()
    ok(f"consumed all {count} with headers in group {group!r}; committed offsets {committed}")


async def check_kafka(kafka: Kafka) -> None:
    step(f"kafka {KAFKA_VERSION}")
    t = time.monotonic()
    libs = ensure_jars(CACHE)
    size = sum(f.stat().st_size for f in libs.glob("*.jar"))
    ok(
        f"jars: {libs} ({len(list(libs.glob('*.jar')))} jars, {size / 1e6:.0f} MB) "
        f"in {time.monotonic() - t:.1f}s"
    )
    t = time.monotonic()
    kafka.start()
    ok(f"started on {kafka.bootstrap} in {time.monotonic() - t:.1f}s")
    kafka.start()  # idempotent
    await kafka.create_topics([TOPIC])
    await kafka.create_topics([TOPIC])  # idempotent
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    [desc] = await admin.describe_topics([TOPIC])
    await admin.close()
    ok(f"topic {TOPIC}: {len(desc['partitions'])} partitions")
    assert len(desc["partitions"]) == 6
    await produce_consume(kafka, 100, "selfcheck-group")

    kafka.kill9()
    ok(f"kill9 -> running={kafka.running()}")
    t = time.monotonic()
    kafka.start()
    ok(f"restarted after kill -9 in {time.monotonic() - t:.1f}s")
    await produce_consume(kafka, 100, "selfcheck-group")
    t = time.monotonic()
    kafka.stop()
    ok(f"clean stop in {time.monotonic() - t:.1f}s; running={kafka.running()}")
    kafka.start()
    ok("started again after clean stop")


def check_gateway(gw: Gateway, upstream_port: int) -> None:
    step("gateway")
    gw.start()
    gw.start()  # idempotent: re-render + reload
    ok(f"nginx on {gw.url} (running={gw.running()})")
    with httpx.Client(base_url=gw.url, timeout=5) as c:
        r = c.get("/healthz")
        rid = r.headers["x-request-id"]
        ok(f"GET /healthz -> {r.status_code} {r.text.strip()} x-request-id={rid}")
        r = c.get("/profiles/people.json", headers={"X-Request-ID": "abc-123"})
        assert r.status_code == 200, r.text
        ok(
            f"GET /profiles/people.json -> {r.status_code} body={r.text.strip()} "
            f"x-request-id={r.headers['x-request-id']} (full URI reached the upstream)"
        )
        r = c.get("/nowhere")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        ok(f"GET /nowhere -> {r.status_code} {r.headers['content-type']} {r.json()}")
        r = c.get("/matching/x")  # route with no upstream running
        ok(
            f"GET /matching/x (upstream down) -> {r.status_code} {r.headers['content-type']} "
            f"{r.json()['title']}"
        )
        r = c.post("/profiles/people.json", content=b"x" * 2_000_000)
        ok(f"POST 2 MB -> {r.status_code} {r.headers['content-type']} {r.json()['title']}")
        codes: dict[int, int] = {}
        limited = None
        for _ in range(300):
            r = c.get("/profiles/people.json", headers={"Authorization": "Bearer burst"})
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 429:
                limited = r
        assert limited is not None, codes
        ok(f"300 rapid requests with one token -> {codes}")
        ok(
            f"429: content-type={limited.headers['content-type']} "
            f"retry-after={limited.headers['retry-after']} body={limited.json()}"
        )
        r = c.get("/profiles/people.json", headers={"Authorization": "Bearer other"})
        ok(f"another client meanwhile -> {r.status_code}")
    time.sleep(1.2)  # access log flushes every second
    last = proc.tail(gw.access_log, 1)
    ok(f"access log line: {last}")
    json.loads(last)


def main() -> int:
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    pg = Postgres(state_dir=ROOT / "pg", port=55433)
    kafka = Kafka(state_dir=ROOT / "kafka", cache_dir=CACHE, port=59092, controller_port=59093)
    site = ROOT / "site" / "profiles"
    site.mkdir(parents=True)
    (site / "people.json").write_text('{"people": []}\n')
    upstream_port = 58001
    http_server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(upstream_port), "--bind", "127.0.0.1"],
        cwd=ROOT / "site",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gw = Gateway(
        state_dir=ROOT / "gw",
        port=58080,
        upstreams={"profiles": upstream_port, "matching": 58002},
        rate_per_second=20,
    )
    try:
        asyncio.run(check_postgres(pg))
        asyncio.run(check_kafka(kafka))
        proc.wait_port("127.0.0.1", upstream_port, timeout=10)
        check_gateway(gw, upstream_port)
    finally:
        step("stopping everything")
        for name, stop in (("gateway", gw.stop), ("kafka", kafka.stop), ("postgres", pg.stop)):
            t = time.monotonic()
            stop()
            print(f"   {name} stopped in {time.monotonic() - t:.1f}s", flush=True)
        http_server.terminate()
        http_server.wait()
    print(f"\nselfcheck passed (Kafka {KAFKA_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
