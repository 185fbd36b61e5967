"""Kafka down while people keep being registered: every write is accepted (the event waits in the
outbox), the backlog shows in profiles' /metrics and readiness while the broker is away, and once
it is back the backlog drains and every person is welcomed exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.reliability.conftest import scale
from tests.reliability.faults.cohorts import Org
from tests.reliability.faults.conftest import Retrier, metrics, readyz, restart, settled
from trellis_infra.pytest_plugin import eventually

OUTAGE_S = scale(10, 60)
WRITERS = 3  # organizations registering people at once, each at the gateway's rate for one admin
BACKLOG = 'trellis_outbox_backlog{schema="profiles"}'
PUBLISHED = 'trellis_outbox_published_total{schema="profiles"}'


class Writers:
    """Admins registering people until told to stop; every answer must be a 201."""

    def __init__(self, retrier: Retrier) -> None:
        self.orgs = [Org(retrier) for _ in range(WRITERS)]
        self.people: list[tuple[Org, dict]] = []
        self.sent_at: list[float] = []  # when each write was sent
        self._running = False
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._running = True
        self._tasks = [asyncio.create_task(self._write(org)) for org in self.orgs]

    async def stop(self) -> None:
        self._running = False
        await asyncio.gather(*self._tasks)

    async def _write(self, org: Org) -> None:
        while self._running:
            sent = time.monotonic()
            person = await org.person(f"Person {len(self.people)}")  # asserts the 201
            self.people.append((org, person))
            self.sent_at.append(sent)


async def _backlog(platform) -> float:
    return (await metrics(platform, "profiles")).get(BACKLOG, 0.0)


@pytest.mark.timeout(scale(400, 900))
async def test_writes_during_a_kafka_outage_wait_in_the_outbox_and_all_arrive(
    gateway, platform, figures
):
    retrier = Retrier(gateway)
    writers = Writers(retrier)
    writers.start()
    await asyncio.sleep(2)
    platform.kafka.stop()
    down = time.monotonic()
    try:
        await asyncio.sleep(OUTAGE_S)
        await writers.stop()
        # Sent once the broker was gone: none of these can have been published. (A write in
        # flight as it stopped may have been, in its last seconds.)
        during = sum(1 for sent in writers.sent_at if sent > down)
        # The backlog is visible while the broker is away: every write of the outage waits.
        seen = await eventually(
            lambda: _backlog(platform), until=lambda n: n >= during, timeout=45, interval=0.5
        )
        ready = await readyz(platform, "profiles")
        assert ready["status"] == "unavailable", ready
        assert ready["checks"]["kafka"] == "unreachable", ready
        assert ready["checks"]["outbox_backlog"] >= during, ready
    finally:
        await restart(platform.kafka.start)
    restarted = time.monotonic()
    published_before = (await metrics(platform, "profiles")).get(PUBLISHED, 0.0)
    await eventually(lambda: _backlog(platform), until=lambda n: n == 0, timeout=120, interval=0.2)
    drain_s = time.monotonic() - restarted
    drained = (await metrics(platform, "profiles")).get(PUBLISHED, 0.0) - published_before
    assert (await readyz(platform, "profiles"))["status"] == "ok"

    async def welcomes() -> Counter:
        found: Counter = Counter()
        for org, person in writers.people:
            inbox = await org.all_pages("/notifications/inbox", org.member(person["id"]))
            found[person["id"]] = sum(item["kind"] == "welcome" for item in inbox)
        return found

    everyone = {person["id"] for _, person in writers.people}
    found = await settled(welcomes, until=lambda f: set(+f) == everyone, timeout=180, interval=2)
    lost = len(everyone - set(+found))
    duplicated = sum(n - 1 for n in found.values() if n > 1)
    figures.summary(
        load=f"{len(writers.people):,} people registered through the gateway by {WRITERS} admins",
        faults=f"Kafka stopped for {OUTAGE_S} s",
        cases=len(writers.people),
        lost=lost,
        duplicated=duplicated,
        errors_5xx=retrier.retried["5xx"],
    )
    figures.add("Kafka down", OUTAGE_S, "s")
    figures.add("people registered (all 201)", len(writers.people))
    figures.add("... of them while Kafka was down", during)
    figures.add("backlog in /metrics while down", int(seen))
    figures.add("drained after restart", round(drain_s, 1), "s")
    figures.add("... events published meanwhile", int(drained))
    figures.add("welcomes delivered", sum(found.values()))
    figures.add("welcomes lost", lost)
    figures.add("welcomes duplicated", duplicated)
    figures.add("requests retried (429, 5xx, connection)", sum(retrier.retried.values()))
    assert lost == 0 and duplicated == 0, found
