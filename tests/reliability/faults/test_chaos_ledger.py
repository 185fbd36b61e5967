"""Chaos with a ledger: people registered and enrolled, mentors requested and accepted, meetings
booked through the gateway while a driver kills the broker, each consumer service and the
database. Every write that got a 2xx goes in a ledger with what it implies downstream; once the
platform is quiet, the ledger is compared with what the services hold and what a partner's
webhook endpoint received: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from tests.reliability.conftest import scale
from tests.reliability.faults.cohorts import GOALS, MENTEE, MENTOR, Org
from tests.reliability.faults.conftest import (
    Retrier,
    database,
    group_lag,
    readyz,
    restart,
    settled,
    subscribe_everything,
)
from tests.reliability.faults.ledger import Pair, tally, writes
from trellis_infra.stack import SERVICES

LOAD_S = scale(30, 120)
ORGS = 3  # each its own admin, so the gateway's per-token rate limit is per organization
LANES = 2  # pairs being registered and enrolled at once, per organization
FOLLOWING = 12  # pairs at most per organization waiting to be matched and to meet
# How long a pair may wait for another service to catch up (matching's read model, sessions
# starting the mentorship) before the driver gives up on taking it further.
FOLLOW_S = scale(180, 240)


def _plan(platform) -> list[tuple[float, str, Callable[[], Awaitable[None]]]]:
    """(seconds into the load, what, how). A fault fires on time even while an earlier one is
    still recovering; every service is made ready again after the load."""

    async def kill_kafka() -> None:
        platform.kafka.kill9()
        await asyncio.sleep(scale(3, 8))
        await restart(platform.kafka.start)

    def kill(service: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            platform.kill_service(service)
            await asyncio.sleep(2)
            platform.start_service(service, wait=False)

        return run

    async def kill_postgres() -> None:
        platform.postgres.kill9()
        await asyncio.sleep(2)
        await restart(platform.postgres.start)

    if LOAD_S < 60:
        return [
            (4, "kill -9 matching", kill("matching")),
            (10, "kill -9 Kafka", kill_kafka),
            (20, "kill -9 profiles", kill("profiles")),
        ]
    return [
        (8, "kill -9 Kafka", kill_kafka),
        (30, "kill -9 matching", kill("matching")),
        (45, "kill -9 sessions", kill("sessions")),
        (60, "kill -9 notifications", kill("notifications")),
        (75, "kill -9 profiles", kill("profiles")),
        (90, "kill -9 Postgres", kill_postgres),
    ]


async def _chaos(platform, started: float, done: list[str]) -> None:
    async def fire(at: float, what: str, action: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        begun = time.monotonic()
        await action()
        done.append(f"{what} at {begun - started:.0f}s, back in {time.monotonic() - begun:.0f}s")

    await asyncio.gather(*(fire(*fault) for fault in _plan(platform)))
    for service in SERVICES:
        await asyncio.to_thread(platform.wait_ready, service, timeout=180)


async def _register(org: Org, program_id: str, n: int, pairs: list[Pair]) -> Pair:
    pair = Pair(org, program_id)
    pairs.append(pair)
    pair.mentor = (await org.person(f"Mentor {n}", **MENTOR))["id"]
    pair.mentee = (await org.person(f"Mentee {n}", **MENTEE))["id"]
    mentor = await org.enroll(program_id, pair.mentor, "mentor", capacity=1, topics=["k8s"])
    pair.enrollments[pair.mentor] = mentor["id"]
    mentee = await org.enroll(program_id, pair.mentee, "mentee", goals=GOALS)
    pair.enrollments[pair.mentee] = mentee["id"]
    return pair


async def _follow(pair: Pair, n: int, until: float) -> None:
    """The mentee asks, the mentor accepts, the mentee books a meeting, as the clock allows."""
    org, program_id = pair.org, pair.program_id
    proposal = await org.request_mentor(program_id, pair.mentee, pair.mentor, timeout=FOLLOW_S)
    if proposal is None:
        return
    pair.proposal = proposal["id"]
    accepted = await org.accept(pair.proposal, pair.mentor)
    assert accepted["status"] == "accepted", accepted
    pair.match = accepted["id"]
    if time.monotonic() > until:
        return
    mentorship = await org.mentorship_of(pair.match, pair.mentee, timeout=FOLLOW_S)
    if mentorship is None:
        return
    pair.mentorship = mentorship["id"]
    meeting = await org.schedule(pair.mentorship, pair.mentee, days_ahead=7 + n % 20)
    pair.meeting = meeting["id"]


async def _organization(org: Org, pairs: list[Pair], stop: float, until: float) -> None:
    """Lanes register pairs until `stop`; each pair is then followed on its own, a bounded
    number at a time, so that waiting on one service does not stop the writes to another."""
    program = await org.program("Chaos cohort", matching={"approval": "two_sided"})
    room = asyncio.Semaphore(FOLLOWING)
    following: set[asyncio.Task] = set()
    count = 0

    async def follow(pair: Pair, n: int) -> None:
        try:
            await _follow(pair, n, until)
        finally:
            room.release()

    async def lane() -> None:
        nonlocal count
        while time.monotonic() < stop:
            await room.acquire()
            count += 1
            pair = await _register(org, program["id"], count, pairs)
            following.add(asyncio.create_task(follow(pair, count)))

    await asyncio.gather(*(lane() for _ in range(LANES)))
    await asyncio.gather(*following)


async def _quiet(platform, orgs: list[Org]) -> dict:
    """Every outbox published, every consumer group caught up, no webhook delivery pending."""
    state: dict = {}
    for service in SERVICES:
        state[f"{service} outbox"] = (await readyz(platform, service))["checks"]["outbox_backlog"]
    state.update({f"{s} lag": n for s, n in (await group_lag(platform)).items()})
    async with database(platform) as db:
        state["webhooks pending"] = await db.fetchval(
            "SELECT count(*) FROM notifications.webhook_delivery"
            " WHERE status = 'pending' AND organization_id = ANY($1::uuid[])",
            [org.id for org in orgs],
        )
    return state


@pytest.mark.timeout(scale(900, 2400))
async def test_nothing_lost_or_duplicated_under_chaos(gateway, platform, receiver, figures):
    retrier = Retrier(gateway, give_up_after=scale(240, 600))
    orgs = [Org(retrier) for _ in range(ORGS)]
    for org in orgs:
        await subscribe_everything(retrier, org.admin, receiver, description="chaos ledger")
    pairs: list[Pair] = []
    faults: list[str] = []
    started = time.monotonic()
    stop, until = started + LOAD_S, started + LOAD_S + FOLLOW_S
    await asyncio.gather(
        _chaos(platform, started, faults),
        *(_organization(org, pairs, stop, until) for org in orgs),
    )
    driven = time.monotonic() - started
    # The load's own requests and what they rode out, before the ledger is read back.
    sent, errors_5xx = retrier.sent, retrier.retried["5xx"]
    quiet = await settled(
        lambda: _quiet(platform, orgs), until=lambda s: not any(s.values()), timeout=300, interval=2
    )
    tallies = await settled(
        lambda: tally(pairs, orgs, receiver, platform),
        until=lambda ts: not any(t.lost for t in ts),
        timeout=120,
        interval=5,
    )

    # In the plan's order: `faults` lists them as they came back.
    killed = [
        what.removeprefix("kill -9 ")
        for _, what, _ in _plan(platform)
        if any(f.startswith(f"{what} at ") for f in faults)
    ]
    figures.summary(
        load=f"{sent:,} requests over {driven:.0f} s through the gateway, {ORGS} organizations",
        faults="kill -9 " + ", ".join(killed),
        cases=writes(pairs),
        lost=sum(t.lost for t in tallies),
        duplicated=sum(t.duplicated for t in tallies),
        errors_5xx=errors_5xx,
    )
    figures.add("load", f"{ORGS} organizations, {LANES} lanes each, for {LOAD_S} s")
    figures.add("driven for", round(driven), "s")
    for n, fault in enumerate(faults, 1):
        figures.add(f"fault {n}", fault)
    figures.add("requests retried", dict(retrier.retried))
    figures.add("pairs registered and enrolled", len(pairs))
    figures.add("... matched", sum(1 for p in pairs if p.match))
    figures.add("... meetings booked", sum(1 for p in pairs if p.meeting))
    gave_up = Counter(g for org in orgs for g in org.gave_up)
    figures.add("gave up waiting", dict(gave_up) or 0)
    figures.add("answers lost, read back", sum(org.recovered for org in orgs))
    figures.add("quiet after", quiet)
    for t in tallies:
        figures.add(
            t.effect,
            f"accepted {len(t.expected)}, delivered {t.delivered}, "
            f"lost {t.lost}, duplicated {t.duplicated}",
        )
    figures.add("bad signatures", len(receiver.refused))
    figures.add("lost (all effects)", sum(t.lost for t in tallies))
    figures.add("duplicated (all effects)", sum(t.duplicated for t in tallies))
    assert len(faults) == len(_plan(platform)), faults
    assert not any(quiet.values()), quiet
    assert receiver.refused == []
    assert all(t.expected for t in tallies), [t.effect for t in tallies if not t.expected]
    assert [(t.effect, t.lost, t.duplicated) for t in tallies if t.lost or t.duplicated] == []
