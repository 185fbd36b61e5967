"""A flood of malformed and off-schema messages on every consumed topic, between good events,
published straight to Kafka: each bad one lands in its topic's DLQ once per consumer with the
reason, each good one is applied, no consumer falls over; throughput with and without the flood."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from tests.reliability.conftest import scale
from tests.reliability.faults.conftest import database, group_lag, readyz
from tests.reliability.faults.poison import BAD_KINDS, bad, consumers_by_topic, good
from trellis_infra import proc
from trellis_infra.pytest_plugin import eventually
from trellis_infra.stack import SERVICES
from trellis_shared.events import dlq_topic, header_value
from trellis_shared.kafka import read_topic

BAD = scale(100, 1000)  # per consumed topic
GOOD = scale(25, 100)  # per consumed topic, in each phase
FLOOD_HEADER = "x-poison-flood"
CRASHED = "failed; restarting"  # what InboxConsumer logs when its loop dies


async def _publish(bootstrap: str, messages: list[tuple]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, key=key, value=value, headers=headers)
            for topic, key, headers, value in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _drain(platform, messages: list[tuple]) -> float:
    """Publish and wait until every consumer group has committed past it; seconds taken."""
    started = time.monotonic()
    await _publish(platform.kafka_bootstrap, messages)
    await eventually(
        lambda: group_lag(platform),
        until=lambda lag: not any(lag.values()),
        timeout=scale(300, 1800),
        interval=0.5,
    )
    return time.monotonic() - started


def _goods(topics: dict, tenant: uuid.UUID, ids: dict[str, set[str]]) -> dict[str, list[tuple]]:
    """GOOD valid events per topic, of types every consumer of the topic handles."""
    found: dict[str, list[tuple]] = {}
    for topic, by_service in topics.items():
        shared = sorted(set.intersection(*by_service.values()))
        found[topic] = []
        for n in range(GOOD):
            key, headers, value = good(shared[n % len(shared)], tenant)
            event_id = header_value(headers, "ce_id")
            for service in by_service:
                ids[service].add(event_id)
            found[topic].append((topic, key, headers, value))
    return found


def _pid(platform, service: str) -> int | None:
    return proc.pid_alive(platform.config.state_dir / "run" / f"{service}.pid")


def _crash_lines(platform) -> dict[str, int]:
    return {s: platform.log_file(s).read_text(errors="replace").count(CRASHED) for s in SERVICES}


@pytest.mark.timeout(scale(600, 3600))
async def test_a_poison_flood_is_dead_lettered_while_good_events_flow(platform, figures):
    topics = consumers_by_topic()
    tenant, run = uuid.uuid4(), uuid.uuid4().hex
    good_ids: dict[str, set[str]] = {s: set() for s in SERVICES}
    pids = {s: _pid(platform, s) for s in SERVICES}
    crashes = _crash_lines(platform)

    baseline = [m for ms in _goods(topics, tenant, good_ids).values() for m in ms]
    baseline_s = await _drain(platform, baseline)

    flood, bad_ids = [], {}
    goods = _goods(topics, tenant, good_ids)
    for topic, by_service in topics.items():
        shared = sorted(set.intersection(*by_service.values()))
        every = BAD // GOOD
        for n in range(BAD):
            kind = BAD_KINDS[n % len(BAD_KINDS)]
            headers, value = bad(kind, shared[n % len(shared)], tenant)
            marker = f"{run}:{topic}:{n}"
            bad_ids[marker] = (topic, kind)
            flood.append(
                (topic, uuid.uuid4().bytes, [*headers, (FLOOD_HEADER, marker.encode())], value)
            )
            if n % every == every - 1 and goods[topic]:
                flood.append(goods[topic].pop())
    flood_s = await _drain(platform, flood)

    # Each bad message once in its topic's DLQ per consumer of the topic, with the reason.
    dead: Counter = Counter()
    reasons: Counter = Counter()
    good_dead = 0
    every_good = set().union(*good_ids.values())
    for topic in topics:
        for record in await read_topic(platform.kafka_bootstrap, dlq_topic(topic)):
            marker = header_value(record.headers, FLOOD_HEADER)
            consumer = header_value(record.headers, "dlq_consumer")
            if header_value(record.headers, "ce_id") in every_good:
                good_dead += 1
            if marker is None or not marker.startswith(run):
                continue
            dead[(marker, consumer)] += 1
            reasons[header_value(record.headers, "dlq_reason")] += 1
            assert header_value(record.headers, "dlq_error"), record.headers
            assert header_value(record.headers, "dlq_original_topic") == topic
    expected = {(m, s) for m, (topic, _) in bad_ids.items() for s in topics[topic]}
    missing = expected - set(dead)
    repeated = sum(n - 1 for n in dead.values())

    # Each good event applied by every consumer that handles it (its inbox row says so).
    applied: dict[str, set[str]] = {}
    async with database(platform) as db:
        for service, ids in good_ids.items():
            rows = await db.fetch(
                f"SELECT event_id::text FROM {service}.inbox_message"
                " WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                service,
                sorted(ids),
            )
            applied[service] = {r["event_id"] for r in rows}
    unapplied = sum(len(good_ids[s] - applied[s]) for s in SERVICES)

    restarted = {s for s in SERVICES if _pid(platform, s) != pids[s]}
    crashed = {s: n - crashes[s] for s, n in _crash_lines(platform).items() if n > crashes[s]}
    running = {s: (await readyz(platform, s))["checks"].get("consumer_running") for s in SERVICES}

    good_per_phase = GOOD * len(topics)
    figures.summary(
        load=f"{len(bad_ids) + 2 * good_per_phase:,} messages straight to Kafka, "
        f"{len(topics)} topics",
        faults=f"{len(BAD_KINDS)} kinds of malformed message between good events",
        cases=len(bad_ids) + 2 * good_per_phase,
        # A good event not applied, or a bad one that left no trace in the DLQ.
        lost=unapplied + len(missing),
        duplicated=repeated,
    )
    figures.add("consumed topics", len(topics))
    figures.add("bad messages published", len(bad_ids), f"({BAD:,} per topic)")
    figures.add("dead-letter entries expected (per consumer)", len(expected))
    figures.add("dead-lettered", sum(dead.values()), str(dict(reasons)))
    figures.add("bad ones missing from the DLQ", len(missing))
    figures.add("bad ones dead-lettered twice", repeated)
    figures.add("good events (each phase)", good_per_phase)
    figures.add("good events not applied", unapplied)
    figures.add("good events dead-lettered", good_dead)
    figures.add("throughput without flood", round(good_per_phase / baseline_s, 1), "good/s")
    figures.add("throughput with flood", round(good_per_phase / flood_s, 1), "good/s")
    figures.add("... all messages with flood", round(len(flood) / flood_s, 1), "messages/s")
    figures.add("consumer crashes", sum(crashed.values()) + len(restarted))
    assert not missing, sorted(missing)[:10]
    assert repeated == 0 and good_dead == 0 and unapplied == 0
    assert set(reasons) == {"malformed"}, reasons
    assert not restarted and not crashed, (restarted, crashed)
    assert all(running[s] for s in SERVICES), running
