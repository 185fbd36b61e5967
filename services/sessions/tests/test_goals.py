"""Goals and milestones: a structured plan with measurable criteria, progress recorded by either
side, each goal completed and each milestone achieved exactly once, and announced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_infra.pytest_plugin import eventually
from trellis_sessions.plan.erasure import erase_person
from trellis_shared.contracts import sessions as s


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


GOAL = {
    "title": "Give a conference talk",
    "description": "A 30-minute talk on our migration to event sourcing",
    "success_criteria": "Talk accepted and delivered at one regional conference",
    "target_date": in_days(120),
}


async def add_goal(world, pair, headers=None, **changes):
    response = await world.sessions.post(
        f"{pair.url}/goals", json=GOAL | changes, headers=headers or pair.mentee
    )
    assert response.status_code == 201, response.text
    return response.json()


async def outboxed(world, event_type: str, key: str) -> int:
    """How many events of `event_type` about `key` were ever written (the outbox keeps them)."""
    [row] = await world.rows(
        "SELECT count(*) AS n FROM outbox_message WHERE event_type = :t AND key = :k",
        t=event_type,
        k=key,
    )
    return row["n"]


async def test_a_goal_carries_its_criterion_milestones_and_progress_history(world):
    pair = await world.pair()
    created = await world.sessions.post(f"{pair.url}/goals", json=GOAL, headers=pair.mentee)
    assert created.status_code == 201, created.text
    goal = created.json()
    assert created.headers["location"] == f"/sessions/goals/{goal['id']}"
    assert created.headers["etag"] == 'W/"1"'
    assert (goal["status"], goal["progress"], goal["created_by"]) == (
        "open",
        0,
        str(pair.mentee_id),
    )
    assert goal["success_criteria"] == GOAL["success_criteria"]
    assert goal["target_date"] == GOAL["target_date"]

    milestone = await world.sessions.post(
        f"/sessions/goals/{goal['id']}/milestones",
        json={"title": "Abstract submitted", "due_on": in_days(30)},
        headers=pair.mentor,
    )
    assert milestone.status_code == 201, milestone.text
    step = await world.sessions.post(
        f"/sessions/goals/{goal['id']}/progress",
        json={"percent": 40, "note": "Outline reviewed together"},
        headers=pair.mentor,
    )
    assert step.status_code == 200, step.text
    assert (step.json()["progress"], step.json()["status"]) == (40, "open")

    listed = await world.sessions.get(f"{pair.url}/goals", headers=pair.admin)
    assert listed.status_code == 200
    [seen] = listed.json()
    assert [m["title"] for m in seen["milestones"]] == ["Abstract submitted"]
    assert [(h["percent"], h["note"], h["author_id"]) for h in seen["history"]] == [
        (40, "Outline reviewed together", str(pair.mentor_id))
    ]
    one = await world.sessions.get(f"/sessions/goals/{goal['id']}", headers=pair.mentee)
    assert one.status_code == 200 and one.headers["etag"] == 'W/"2"'

    for headers in (pair.stranger, pair.other_org_admin):
        assert (await world.sessions.get(f"{pair.url}/goals", headers=headers)).status_code == 404
        hidden = await world.sessions.get(f"/sessions/goals/{goal['id']}", headers=headers)
        assert hidden.status_code == 404
        assert pair.id not in hidden.json()["detail"]  # not even which mentorship it is in
        pushed = await world.sessions.post(
            f"/sessions/goals/{goal['id']}/progress", json={"percent": 90}, headers=headers
        )
        assert pushed.status_code == 404
    by_admin = await world.sessions.post(f"{pair.url}/goals", json=GOAL, headers=pair.admin)
    assert by_admin.status_code == 403


async def test_reaching_100_percent_completes_the_goal_once(world):
    pair = await world.pair()
    goal = await add_goal(world, pair)
    url = f"/sessions/goals/{goal['id']}"
    assert (
        await world.sessions.post(f"{url}/progress", json={"percent": 70}, headers=pair.mentor)
    ).status_code == 200
    done = await world.sessions.post(
        f"{url}/progress", json={"percent": 100, "note": "Delivered!"}, headers=pair.mentee
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["progress"]) == ("completed", 100)
    assert done.json()["completed_at"]

    again = await world.sessions.post(f"{url}/complete", headers=pair.mentor)
    assert again.status_code == 409 and "already completed" in again.json()["detail"]
    more = await world.sessions.post(f"{url}/progress", json={"percent": 100}, headers=pair.mentor)
    assert more.status_code == 409

    [completed] = await eventually(lambda: world.events(s.GoalCompleted, goal["id"]))
    assert completed.type == "trellis.sessions.goal.completed.v1"
    assert completed.tenant == pair.org
    assert completed.data.goal_id == uuid.UUID(goal["id"])
    assert completed.data.mentorship_id == uuid.UUID(pair.id)
    assert (completed.data.title, completed.data.completed_by) == (GOAL["title"], "mentee")
    assert await outboxed(world, completed.type, goal["id"]) == 1

    # Completing directly records the 100 % in the history too.
    other = await add_goal(world, pair, title="Read three books on leadership")
    closed = await world.sessions.post(
        f"/sessions/goals/{other['id']}/complete", headers=pair.mentor
    )
    assert closed.status_code == 200
    assert [h["percent"] for h in closed.json()["history"]] == [100]
    [event] = await eventually(lambda: world.events(s.GoalCompleted, other["id"]))
    assert event.data.completed_by == "mentor"


async def test_changing_a_goal_needs_if_match_and_a_completed_goal_stays_completed(world):
    pair = await world.pair()
    goal = await add_goal(world, pair)
    url = f"/sessions/goals/{goal['id']}"
    change = {"title": "Give two conference talks", "description": None}
    assert (await world.sessions.patch(url, json=change, headers=pair.mentor)).status_code == 428
    stale = await world.sessions.patch(
        url, json=change, headers=pair.mentor | {"If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    changed = await world.sessions.patch(
        url, json=change, headers=pair.mentor | {"If-Match": 'W/"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["description"]) == (change["title"], None)
    assert changed.headers["etag"] == 'W/"2"'
    assert changed.json()["success_criteria"] == GOAL["success_criteria"]  # untouched

    dropped = await world.sessions.patch(
        url, json={"status": "dropped"}, headers=pair.mentee | {"If-Match": 'W/"2"'}
    )
    assert dropped.status_code == 200 and dropped.json()["status"] == "dropped"
    stuck = await world.sessions.post(f"{url}/progress", json={"percent": 10}, headers=pair.mentee)
    assert stuck.status_code == 409 and "dropped" in stuck.json()["detail"]
    reopened = await world.sessions.patch(
        url, json={"status": "open"}, headers=pair.mentee | {"If-Match": 'W/"3"'}
    )
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"

    assert (await world.sessions.post(f"{url}/complete", headers=pair.mentee)).status_code == 200
    reopen = await world.sessions.patch(
        url, json={"status": "open"}, headers=pair.mentee | {"If-Match": "*"}
    )
    assert reopen.status_code == 409
    by_admin = await world.sessions.patch(
        url, json={"title": "x"}, headers=pair.admin | {"If-Match": "*"}
    )
    assert by_admin.status_code == 403


async def test_a_milestone_is_achieved_once_and_announced(world):
    pair = await world.pair()
    goal = await add_goal(world, pair)
    created = await world.sessions.post(
        f"/sessions/goals/{goal['id']}/milestones",
        json={"title": "First draft of the slides"},
        headers=pair.mentee,
    )
    assert created.status_code == 201, created.text
    milestone = created.json()
    assert milestone["achieved_at"] is None and milestone["due_on"] is None
    url = f"/sessions/milestones/{milestone['id']}/achieve"

    assert (await world.sessions.post(url, headers=pair.stranger)).status_code == 404
    assert (await world.sessions.post(url, headers=pair.admin)).status_code == 403
    achieved = await world.sessions.post(url, headers=pair.mentor)
    assert achieved.status_code == 200, achieved.text
    assert achieved.json()["achieved_by"] == str(pair.mentor_id)
    assert achieved.json()["achieved_at"]
    twice = await world.sessions.post(url, headers=pair.mentee)
    assert twice.status_code == 409

    [event] = await eventually(lambda: world.events(s.MilestoneAchieved, milestone["id"]))
    assert event.type == "trellis.sessions.milestone.achieved.v1"
    assert event.data.goal_id == uuid.UUID(goal["id"])
    assert (event.data.title, event.data.achieved_by) == ("First draft of the slides", "mentor")
    assert (event.data.mentor_id, event.data.mentee_id) == (pair.mentor_id, pair.mentee_id)
    assert await outboxed(world, event.type, milestone["id"]) == 1


async def test_a_closed_mentorship_takes_no_new_goals(world):
    pair = await world.pair()
    goal = await add_goal(world, pair)
    ended = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "Moved away"}, headers=pair.mentor
    )
    assert ended.status_code == 200
    late = await world.sessions.post(f"{pair.url}/goals", json=GOAL, headers=pair.mentee)
    assert late.status_code == 409 and "ended" in late.json()["detail"]
    progress = await world.sessions.post(
        f"/sessions/goals/{goal['id']}/progress", json={"percent": 50}, headers=pair.mentee
    )
    assert progress.status_code == 409


async def test_bad_goal_input_names_the_field(world):
    pair = await world.pair()
    for body, field in (
        (GOAL | {"title": ""}, "body.title"),
        (GOAL | {"title": "x" * 201}, "body.title"),
        ({"description": "no title"}, "body.title"),
        (GOAL | {"description": "x" * 4001}, "body.description"),
        (GOAL | {"success_criteria": "x" * 1001}, "body.success_criteria"),
        (GOAL | {"target_date": in_days(-2)}, "body.target_date"),
        (GOAL | {"status": "completed"}, "body.status"),
    ):
        response = await world.sessions.post(f"{pair.url}/goals", json=body, headers=pair.mentee)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()

    goal = await add_goal(world, pair)
    url = f"/sessions/goals/{goal['id']}"
    for path, body, field in (
        ("progress", {"percent": 101}, "body.percent"),
        ("progress", {"percent": -1}, "body.percent"),
        ("progress", {"percent": 50, "note": "x" * 2001}, "body.note"),
        ("milestones", {"title": "x" * 201}, "body.title"),
        ("milestones", {"title": "Slides", "due_on": in_days(-3)}, "body.due_on"),
    ):
        response = await world.sessions.post(f"{url}/{path}", json=body, headers=pair.mentor)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}
    for body, field in (
        ({"title": None}, "body.title"),
        ({"status": "completed"}, "body.status"),
        ({"target_date": in_days(-2)}, "body.target_date"),
        ({"progress": 100}, "body.progress"),
    ):
        response = await world.sessions.patch(
            url, json=body, headers=pair.mentor | {"If-Match": "*"}
        )
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}
    unknown = await world.sessions.get(f"/sessions/goals/{uuid.uuid4()}", headers=pair.admin)
    assert unknown.status_code == 404
    not_an_id = await world.sessions.get("/sessions/goals/123", headers=pair.admin)
    assert not_an_id.status_code == 422


async def test_erasure_blanks_progress_notes_and_keeps_the_joint_plan(world):
    pair = await world.pair()
    goal = await add_goal(world, pair)
    url = f"/sessions/goals/{goal['id']}/progress"
    for headers, note in ((pair.mentee, "Nervous about speaking"), (pair.mentor, "Good outline")):
        step = await world.sessions.post(url, json={"percent": 30, "note": note}, headers=headers)
        assert step.status_code == 200

    async with AsyncSession(world.engine) as session, session.begin():
        await erase_person(session, pair.org, pair.mentee_id)
    [seen] = (await world.sessions.get(f"{pair.url}/goals", headers=pair.mentor)).json()
    assert [(h["percent"], h["note"]) for h in seen["history"]] == [
        (30, None),
        (30, "Good outline"),
    ]
    assert (seen["title"], seen["success_criteria"]) == (GOAL["title"], GOAL["success_criteria"])
