"""Check-in prompts on the mentorship's cadence: both participants asked every `cadence_days`,
once per cadence even after an outage, never while paused, never again once it is over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from trellis_infra.pytest_plugin import eventually
from trellis_notifications.reminders import run_once
from trellis_shared.contracts import sessions as s

DAY = timedelta(days=1)


async def _prompts(world, org, person) -> list[dict]:
    inbox = await world.inbox(org, person, limit=100)
    return [i for i in inbox["data"] if i["kind"] == "checkin_prompt"]


async def _view(world, mentorship_id) -> dict:
    [row] = await world.rows("SELECT * FROM mentorship_view WHERE id = :m", m=mentorship_id)
    return dict(row)


async def test_checkin_prompts_follow_the_cadence_pauses_and_the_end(world, sessionmaker):
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor")
    mentee = await world.person(org, name="Theo Mentee")
    # The story happens in the future, so the app's own worker (on the real clock) stays out of it.
    t0 = datetime.now(UTC).replace(microsecond=0)
    pair = {
        "mentorship_id": uuid.uuid4(),
        "program_id": uuid.uuid4(),
        "mentor_id": mentor,
        "mentee_id": mentee,
    }
    mentorship = pair["mentorship_id"]

    async def publish(data, status: str) -> None:
        await world.publish(data, org=org, source="trellis/sessions")
        await eventually(
            lambda: world.rows("SELECT status FROM mentorship_view WHERE id = :m", m=mentorship),
            until=lambda rows: rows and rows[0]["status"] == status,
        )

    await publish(
        s.MentorshipStarted(
            **pair, match_id=uuid.uuid4(), cadence_days=7, meeting_minutes=45, started_at=t0
        ),
        "active",
    )
    assert (await _view(world, mentorship))["next_prompt_at"] == t0 + 7 * DAY

    await run_once(sessionmaker, now=t0 + 6 * DAY)
    assert await _prompts(world, org, mentee) == []

    # Two cadences went by with the worker down: one prompt, not a pile of them.
    await run_once(sessionmaker, now=t0 + 15 * DAY)
    await run_once(sessionmaker, now=t0 + 15 * DAY)
    for person, other in ((mentee, "Maya Mentor"), (mentor, "Theo Mentee")):
        [prompt] = await _prompts(world, org, person)
        assert prompt["title"] == f"How is your mentorship with {other} going?"
        assert "How is your mentorship going? A one-minute check-in" in prompt["body"]
        assert prompt["link"] == f"/sessions/mentorships/{mentorship}/checkins"
        assert prompt["category"] == "progress"
    assert (await _view(world, mentorship))["next_prompt_at"] == t0 + 21 * DAY

    await publish(
        s.MentorshipPaused(
            **pair, reason="parental leave", paused_by="mentee", paused_at=t0 + 16 * DAY
        ),
        "paused",
    )
    await run_once(sessionmaker, now=t0 + 22 * DAY)
    assert len(await _prompts(world, org, mentee)) == 1

    # Resumed: the next prompt is a full cadence later.
    await publish(
        s.MentorshipResumed(**pair, resumed_by="mentee", resumed_at=t0 + 23 * DAY),
        "active",
    )
    assert (await _view(world, mentorship))["next_prompt_at"] == t0 + 30 * DAY
    await run_once(sessionmaker, now=t0 + 29 * DAY)
    assert len(await _prompts(world, org, mentee)) == 1
    await run_once(sessionmaker, now=t0 + 30 * DAY)
    assert len(await _prompts(world, org, mentee)) == 2
    assert len(await _prompts(world, org, mentor)) == 2

    await publish(
        s.MentorshipCompleted(**pair, completed_by="mentor", completed_at=t0 + 31 * DAY),
        "completed",
    )
    # A stale resume (older than the completion) arriving late does not bring the prompts back.
    await world.publish(
        s.MentorshipResumed(**pair, resumed_by="mentee", resumed_at=t0 + 24 * DAY),
        org=org,
        source="trellis/sessions",
    )
    await eventually(
        lambda: world.inbox(org, mentee, limit=100),
        until=lambda i: sum(x["kind"] == "mentorship_resumed" for x in i["data"]) == 2,
    )
    assert (await _view(world, mentorship))["status"] == "completed"
    await run_once(sessionmaker, now=t0 + 60 * DAY)
    assert len(await _prompts(world, org, mentee)) == 2
