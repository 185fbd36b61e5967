"""Health: a mentorship's score with reasons, seen by its people and admins only, and the watch
that flags drifting mentorships once per episode and clears them when they recover.

Meetings and check-ins in the past cannot be made through the API (a meeting cannot be scheduled
in the past), so the facts of weeks gone by are written as rows, the way the meetings and pulse
areas store them; what happens now goes through the API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from trellis_infra.pytest_plugin import eventually, settings_for
from trellis_sessions.health.score import NAMES
from trellis_sessions.health.sweep import sweep
from trellis_sessions.settings import SessionsSettings
from trellis_shared.contracts import sessions as s
from trellis_shared.db import create_engine, create_sessionmaker

AT_RISK = "trellis.sessions.mentorship.at_risk.v1"


@pytest.fixture(scope="module")
async def run_sweep(stack):
    """One sweep of the health watch, run on demand (the app's own runs every 10 minutes)."""
    settings = settings_for(stack, "sessions", SessionsSettings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine, settings)
    yield lambda: sweep(sessionmaker)
    await engine.dispose()


async def execute(world, sql: str, **params) -> None:
    async with world.engine.begin() as conn:
        await conn.execute(sa.text(sql), params)


async def started_days_ago(world, pair, days: float) -> None:
    await execute(
        world,
        "UPDATE mentorship SET started_at = :at WHERE id = :id",
        at=datetime.now(UTC) - timedelta(days=days),
        id=uuid.UUID(pair.id),
    )


async def met_days_ago(world, pair, *days: float, status: str = "completed") -> None:
    now = datetime.now(UTC)
    for d in days:
        starts = now - timedelta(days=d)
        await execute(
            world,
            "INSERT INTO meeting (id, organization_id, mentorship_id, starts_at, ends_at,"
            " time_zone, duration_minutes, mode, status, cancelled_at, completed_at, sequence,"
            " created_at, version)"
            " VALUES (:id, :org, :m, :starts, :ends, 'UTC', 45, 'video', :status,"
            " :cancelled, :completed, 0, :created, 1)",
            id=uuid.uuid4(),
            org=pair.org,
            m=uuid.UUID(pair.id),
            starts=starts,
            ends=starts + timedelta(minutes=45),
            status=status,
            cancelled=starts - timedelta(days=1) if status == "cancelled" else None,
            completed=starts + timedelta(minutes=45) if status == "completed" else None,
            created=starts - timedelta(days=7),
        )


async def drifting(world, **program):
    """Started 60 days ago with a 14-day cadence; met once, 35 days ago (2.5 cadences)."""
    pair = await world.pair(cadence_days=14, **program)
    await started_days_ago(world, pair, 60)
    await met_days_ago(world, pair, 35)
    return pair


async def at_risk_events(world, pair) -> list:
    """The mentorship's at-risk events on Kafka (its topic carries its other events too)."""
    return [e for e in await world.events(s.MentorshipAtRisk, pair.id) if e.type == AT_RISK]


async def flags_in_outbox(world, pair) -> int:
    rows = await world.rows(
        "SELECT count(*) AS n FROM outbox_message WHERE event_type = :t AND key = :k",
        t=AT_RISK,
        k=pair.id,
    )
    return rows[0]["n"]


async def state(world, pair) -> dict:
    [row] = await world.rows(
        "SELECT health_score, health_checked_at, at_risk_since FROM mentorship WHERE id = :id",
        id=uuid.UUID(pair.id),
    )
    return dict(row)


async def test_a_new_mentorship_is_healthy_with_a_reason_for_every_component(world):
    pair = await world.pair(cadence_days=14)
    response = await world.sessions.get(f"{pair.url}/health", headers=pair.mentee)
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["status"] == "active"
    assert health["score"] >= 90 and health["threshold"] == 50 and health["at_risk"] is False
    assert [c["name"] for c in health["components"]] == list(NAMES)
    assert sum(c["weight"] for c in health["components"]) == pytest.approx(1.0)
    assert all(c["reason"] and 0 <= c["value"] <= 1 for c in health["components"])
    cadence = health["components"][0]
    assert cadence["value"] == 1.0
    assert cadence["reason"].startswith("Started 0 days ago: the first meeting is due within")
    assert health["at_risk_since"] is None and health["computed_at"]


async def test_only_the_participants_and_org_admins_see_the_health(world):
    pair = await world.pair()
    for headers in (pair.mentor, pair.mentee, pair.admin):
        response = await world.sessions.get(f"{pair.url}/health", headers=headers)
        assert response.status_code == 200, response.text
    for headers in (pair.stranger, pair.other_org_admin):
        response = await world.sessions.get(f"{pair.url}/health", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await world.sessions.get(
        f"/sessions/mentorships/{uuid.uuid4()}/health", headers=pair.admin
    )
    assert missing.status_code == 404


async def test_the_score_follows_the_facts_against_the_programs_threshold(world):
    pair = await drifting(world, health_threshold=70)
    before = (await world.sessions.get(f"{pair.url}/health", headers=pair.mentor)).json()
    assert before["threshold"] == 70
    assert before["score"] < 50 and before["at_risk"] is True
    parts = {c["name"]: c for c in before["components"]}
    assert parts["last_contact"]["value"] == 0.0
    assert parts["last_contact"]["reason"] == (
        "Last meeting or check-in 35 days ago (every 14 days agreed)"
    )
    assert parts["cadence"]["reason"].startswith("1 of 3 expected meetings held")

    # The mentee checks in today, unhappy: contact is fresh again, sentiment drops.
    checked_in = await world.sessions.post(
        f"{pair.url}/checkins", json={"rating": 2, "blockers": "No meetings"}, headers=pair.mentee
    )
    assert checked_in.status_code == 201, checked_in.text
    after = (await world.sessions.get(f"{pair.url}/health", headers=pair.mentor)).json()
    parts = {c["name"]: c for c in after["components"]}
    assert parts["last_contact"]["value"] == 1.0
    assert parts["sentiment"]["value"] == 0.25
    assert parts["sentiment"]["reason"] == "Mean check-in rating 2.0/5 over 1 recent check-in"
    assert after["score"] > before["score"]


async def test_the_watch_flags_a_drifting_mentorship_once_and_clears_it_on_recovery(
    world, run_sweep
):
    pair = await drifting(world)

    await run_sweep()
    flagged = await state(world, pair)
    assert flagged["health_score"] < 50 and flagged["at_risk_since"] is not None
    [event] = await eventually(
        lambda: at_risk_events(world, pair), until=lambda found: len(found) >= 1
    )
    assert event.type == AT_RISK and event.tenant == pair.org
    assert (event.data.mentor_id, event.data.mentee_id) == (pair.mentor_id, pair.mentee_id)
    assert (event.data.score, event.data.threshold) == (flagged["health_score"], 50)
    assert event.data.reasons[0] == "Last meeting or check-in 35 days ago (every 14 days agreed)"
    assert any(r.startswith("1 of 3 expected meetings held") for r in event.data.reasons)
    shown = (await world.sessions.get(pair.url, headers=pair.admin)).json()
    assert shown["at_risk"] is True and shown["health_score"] == flagged["health_score"]
    at_risk = await world.sessions.get(
        "/sessions/mentorships", params={"at_risk": "true"}, headers=pair.mentee
    )
    assert [m["id"] for m in at_risk.json()["data"]] == [pair.id]

    # Still drifting: checked again, not announced again.
    await run_sweep()
    again = await state(world, pair)
    assert again["health_checked_at"] > flagged["health_checked_at"]
    assert again["at_risk_since"] == flagged["at_risk_since"]
    assert await flags_in_outbox(world, pair) == 1

    # They meet on their cadence again: the flag clears, and nothing is announced.
    await met_days_ago(world, pair, 1, 15, 29)
    await run_sweep()
    recovered = await state(world, pair)
    assert recovered["at_risk_since"] is None and recovered["health_score"] >= 55
    assert (await world.sessions.get(pair.url, headers=pair.admin)).json()["at_risk"] is False
    assert await flags_in_outbox(world, pair) == 1


async def test_a_score_near_the_threshold_keeps_its_flag_until_clearly_above(world, run_sweep):
    pair = await drifting(world, health_threshold=60)
    await run_sweep()
    score = (await state(world, pair))["health_score"]
    assert score < 60 and (await state(world, pair))["at_risk_since"] is not None

    # The program lowers its threshold just under the score: inside the hysteresis band.
    await world.program(pair.org, program_id=pair.program_id, health_threshold=score - 2, version=2)
    await run_sweep()
    assert (await state(world, pair))["at_risk_since"] is not None
    # Lowered by more than the band: the flag clears.
    await world.program(pair.org, program_id=pair.program_id, health_threshold=score - 6, version=3)
    await run_sweep()
    assert (await state(world, pair))["at_risk_since"] is None
    assert await flags_in_outbox(world, pair) == 1


async def test_sweeps_running_at_once_flag_a_mentorship_once(world, run_sweep):
    pair = await drifting(world)
    await asyncio.gather(run_sweep(), run_sweep(), run_sweep())
    assert (await state(world, pair))["at_risk_since"] is not None
    assert await flags_in_outbox(world, pair) == 1


async def test_a_paused_mentorship_is_not_judged(world, run_sweep):
    pair = await drifting(world)
    await run_sweep()
    assert (await state(world, pair))["at_risk_since"] is not None

    paused = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "Exams"}, headers=pair.mentee
    )
    assert paused.status_code == 200, paused.text
    await run_sweep()
    assert (await state(world, pair))["at_risk_since"] is None
    health = (await world.sessions.get(f"{pair.url}/health", headers=pair.mentee)).json()
    assert health["status"] == "paused"
    assert (health["score"], health["at_risk"], health["components"]) == (None, False, [])
    assert "paused" in health["note"]
    assert await flags_in_outbox(world, pair) == 1


async def test_completed_and_ended_mentorships_say_so(world):
    pair = await world.pair()
    ended = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "Moved abroad"}, headers=pair.admin
    )
    assert ended.status_code == 200
    health = (await world.sessions.get(f"{pair.url}/health", headers=pair.admin)).json()
    assert (health["status"], health["score"], health["at_risk"]) == ("ended", None, False)
    assert "ended" in health["note"]


async def test_a_resumed_mentorship_gets_a_new_mentorships_grace(world):
    pair = await drifting(world)
    before = await world.sessions.get(f"{pair.url}/health", headers=pair.admin)
    assert before.json()["at_risk"] is True or before.json()["score"] < 50

    paused = await world.sessions.post(
        f"{pair.url}/pause", json={"reason": "Exam season"}, headers=pair.mentee
    )
    assert paused.status_code == 200
    resumed = await world.sessions.post(f"{pair.url}/resume", headers=pair.mentee)
    assert resumed.status_code == 200

    after = await world.sessions.get(f"{pair.url}/health", headers=pair.admin)
    assert after.json()["score"] >= 50, after.json()
    assert after.json()["score"] > before.json()["score"]
