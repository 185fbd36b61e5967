"""Goals with measurable criteria, the milestones on the way, and the progress either side records.

A goal completes once (by recording 100 % or by completing it), a milestone is achieved once; each
is announced so that notifications can celebrate it and profiles can record an achievement.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.events import identity, publish
from trellis_sessions.mentorships.access import require_status, visible
from trellis_sessions.mentorships.models import Mentorship, Side
from trellis_sessions.mentorships.service import OPEN
from trellis_sessions.plan.models import Goal, GoalProgress, Milestone
from trellis_sessions.plan.schemas import (
    GoalCreate,
    GoalPublic,
    GoalUpdate,
    MilestoneCreate,
    MilestonePublic,
    ProgressPublic,
)
from trellis_shared.auth import Principal
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import sessions as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.problems import Problem

T = TypeVar("T", Goal, Milestone)


async def reach(
    session: AsyncSession, principal: Principal, table: type[T], id_: uuid.UUID, *, lock: bool
) -> tuple[Mentorship, T]:
    """A goal or milestone with its mentorship, if the caller may see that mentorship; else 404.

    The mentorship is locked first (as every write in it does), then the row itself.
    """
    name = table.__tablename__
    mentorship_id = await session.scalar(
        select(table.mentorship_id).where(table.id == id_, table.organization_id == principal.org)
    )
    if mentorship_id is None:
        raise Problem(404, f"No {name} {id_}")
    try:
        mentorship = await visible(session, principal, mentorship_id, lock=lock)
    except Problem as exc:
        # Said of the goal, so a stranger does not even learn which mentorship it belongs to.
        raise Problem(404, f"No {name} {id_}") from exc
    row = await get_in_tenant(session, table, id_, organization_id=principal.org, lock=lock)
    return mentorship, row


def _require_open(goal: Goal, *, doing: str) -> None:
    if goal.status != "open":
        raise Problem(
            409,
            f"Cannot {doing}: the goal is {goal.status}",
            slug="goal-state",
            status_now=goal.status,
        )


async def create(
    *, session: AsyncSession, mentorship: Mentorship, author_id: uuid.UUID, data: GoalCreate
) -> Goal:
    """Add a goal to the plan of an open mentorship."""
    require_status(mentorship, *OPEN, doing="add a goal")
    goal = Goal(
        organization_id=mentorship.organization_id,
        mentorship_id=mentorship.id,
        created_by=author_id,
        **data.model_dump(),
    )
    session.add(goal)
    await session.flush()
    return goal


async def present(session: AsyncSession, goals: list[Goal]) -> list[GoalPublic]:
    """The goals with their milestones and progress history (two queries, whatever the count)."""
    if not goals:
        return []
    ids = [g.id for g in goals]
    org = goals[0].organization_id
    milestones = await session.exec(
        select(Milestone)
        .where(Milestone.organization_id == org, col(Milestone.goal_id).in_(ids))
        .order_by(col(Milestone.created_at), col(Milestone.id))
    )
    steps = await session.exec(
        select(GoalProgress)
        .where(GoalProgress.organization_id == org, col(GoalProgress.goal_id).in_(ids))
        .order_by(col(GoalProgress.created_at), col(GoalProgress.id))
    )
    under: dict[uuid.UUID, dict[str, list[Any]]] = {
        i: {"milestones": [], "history": []} for i in ids
    }
    for milestone in milestones.all():
        under[milestone.goal_id]["milestones"].append(MilestonePublic.model_validate(milestone))
    for step in steps.all():
        under[step.goal_id]["history"].append(ProgressPublic.model_validate(step))
    return [GoalPublic.model_validate(g).model_copy(update=under[g.id]) for g in goals]


async def list_for(*, session: AsyncSession, mentorship: Mentorship) -> list[GoalPublic]:
    """The mentorship's goals, oldest first (a plan has a handful, so no pages)."""
    goals = await session.exec(
        select(Goal)
        .where(
            Goal.organization_id == mentorship.organization_id,
            Goal.mentorship_id == mentorship.id,
        )
        .order_by(col(Goal.created_at), col(Goal.id))
    )
    return await present(session, list(goals.all()))


async def update(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    goal: Goal,
    data: GoalUpdate,
    if_match: str | None,
) -> Goal:
    """Change texts, target date or status (open or dropped), if the caller saw this version."""
    require_status(mentorship, *OPEN, doing="change a goal")
    require_if_match(if_match, goal.version)
    changes = {
        k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(goal, k) != v
    }
    if "status" in changes and goal.status == "completed":
        raise Problem(
            409, "A completed goal stays completed", slug="goal-state", status_now=goal.status
        )
    if not changes:
        return goal
    for name, value in changes.items():
        setattr(goal, name, value)
    goal.version += 1
    session.add(goal)
    await session.flush()
    return goal


async def _complete(
    session: AsyncSession, mentorship: Mentorship, goal: Goal, side: Side, now: datetime
) -> None:
    goal.status, goal.progress, goal.completed_at = "completed", 100, now
    await publish(
        session,
        contracts.GoalCompleted(
            **identity(mentorship),
            goal_id=goal.id,
            title=goal.title,
            completed_by=side,
            completed_at=now,
        ),
        tenant=mentorship.organization_id,
    )


async def record_progress(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    goal: Goal,
    author_id: uuid.UUID,
    side: Side,
    percent: int,
    note: str | None = None,
) -> Goal:
    """Record how far the goal is (it may go back too); 100 % completes it."""
    require_status(mentorship, *OPEN, doing="record progress")
    _require_open(goal, doing="record progress")
    now = datetime.now(UTC)
    session.add(
        GoalProgress(
            organization_id=goal.organization_id,
            goal_id=goal.id,
            mentorship_id=goal.mentorship_id,
            author_id=author_id,
            percent=percent,
            note=note,
            created_at=now,
        )
    )
    goal.progress = percent
    if percent == 100:
        await _complete(session, mentorship, goal, side, now)
    goal.version += 1
    session.add(goal)
    await session.flush()
    return goal


async def complete(
    *, session: AsyncSession, mentorship: Mentorship, goal: Goal, author_id: uuid.UUID, side: Side
) -> Goal:
    """Declare the goal reached (recorded as 100 % in its history); only once."""
    if goal.status == "completed":
        raise Problem(
            409, "The goal is already completed", slug="goal-state", status_now="completed"
        )
    return await record_progress(
        session=session,
        mentorship=mentorship,
        goal=goal,
        author_id=author_id,
        side=side,
        percent=100,
    )


async def add_milestone(
    *, session: AsyncSession, mentorship: Mentorship, goal: Goal, data: MilestoneCreate
) -> Milestone:
    """Add a checkpoint under an open goal."""
    require_status(mentorship, *OPEN, doing="add a milestone")
    _require_open(goal, doing="add a milestone")
    milestone = Milestone(
        organization_id=goal.organization_id,
        goal_id=goal.id,
        mentorship_id=goal.mentorship_id,
        **data.model_dump(),
    )
    session.add(milestone)
    await session.flush()
    return milestone


async def achieve(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    milestone: Milestone,
    person_id: uuid.UUID,
    side: Side,
) -> Milestone:
    """Mark the milestone achieved (once). A milestone ticked after its goal was completed still
    counts; one under a dropped goal does not."""
    require_status(mentorship, *OPEN, doing="achieve a milestone")
    if milestone.achieved_at is not None:
        raise Problem(409, "The milestone is already achieved", slug="milestone-achieved")
    goal = await get_in_tenant(
        session, Goal, milestone.goal_id, organization_id=milestone.organization_id
    )
    if goal.status == "dropped":
        raise Problem(409, "Cannot achieve a milestone: its goal was dropped", slug="goal-state")
    now = datetime.now(UTC)
    milestone.achieved_at, milestone.achieved_by = now, person_id
    session.add(milestone)
    await session.flush()
    await publish(
        session,
        contracts.MilestoneAchieved(
            **identity(mentorship),
            milestone_id=milestone.id,
            goal_id=milestone.goal_id,
            title=milestone.title,
            achieved_by=side,
            achieved_at=now,
        ),
        tenant=mentorship.organization_id,
    )
    return milestone
