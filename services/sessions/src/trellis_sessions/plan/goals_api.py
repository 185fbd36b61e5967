"""Goal and milestone routes (mounted under /sessions by the plan router)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from trellis_sessions.mentorships.access import participant_side, visible
from trellis_sessions.plan import goals as service
from trellis_sessions.plan.models import Goal, Milestone
from trellis_sessions.plan.schemas import (
    GoalCreate,
    GoalPublic,
    GoalUpdate,
    MilestoneCreate,
    MilestonePublic,
    ProgressCreate,
)
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.concurrency import etag
from trellis_shared.db import SessionDep

router = APIRouter()


async def _shown(session, goal: Goal, response: Response) -> GoalPublic:
    response.headers["ETag"] = etag(goal.version)
    [public] = await service.present(session, [goal])
    return public


@router.post(
    "/mentorships/{mentorship_id}/goals",
    status_code=201,
    response_model=GoalPublic,
    summary="Add a goal with its measurable criterion and target date (a participant)",
)
async def create_goal(
    mentorship_id: uuid.UUID,
    body: GoalCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> GoalPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        participant_side(mentorship, principal)
        goal = await service.create(
            session=session, mentorship=mentorship, author_id=principal.person_id, data=body
        )
    response.headers["Location"] = f"/sessions/goals/{goal.id}"
    return await _shown(session, goal, response)


@router.get(
    "/mentorships/{mentorship_id}/goals",
    response_model=list[GoalPublic],
    summary="The plan: every goal with its milestones and progress history",
)
async def list_goals(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[GoalPublic]:
    mentorship = await visible(session, principal, mentorship_id)
    return await service.list_for(session=session, mentorship=mentorship)


@router.get("/goals/{goal_id}", response_model=GoalPublic, summary="One goal (with its ETag)")
async def read_goal(
    goal_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> GoalPublic:
    _, goal = await service.reach(session, principal, Goal, goal_id, lock=False)
    return await _shown(session, goal, response)


@router.patch(
    "/goals/{goal_id}",
    response_model=GoalPublic,
    summary="Change a goal's texts, target date or status open/dropped (send If-Match)",
)
async def update_goal(
    goal_id: uuid.UUID,
    body: GoalUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> GoalPublic:
    async with session.begin():
        mentorship, goal = await service.reach(session, principal, Goal, goal_id, lock=True)
        participant_side(mentorship, principal)
        await service.update(
            session=session, mentorship=mentorship, goal=goal, data=body, if_match=if_match
        )
    return await _shown(session, goal, response)


@router.post(
    "/goals/{goal_id}/progress",
    response_model=GoalPublic,
    summary="Record how far the goal is, with a note (either participant; 100 completes it)",
)
async def record_progress(
    goal_id: uuid.UUID,
    body: ProgressCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> GoalPublic:
    async with session.begin():
        mentorship, goal = await service.reach(session, principal, Goal, goal_id, lock=True)
        side = participant_side(mentorship, principal)
        await service.record_progress(
            session=session,
            mentorship=mentorship,
            goal=goal,
            author_id=principal.person_id,
            side=side,
            percent=body.percent,
            note=body.note,
        )
    return await _shown(session, goal, response)


@router.post(
    "/goals/{goal_id}/complete",
    response_model=GoalPublic,
    summary="Declare the goal reached (once)",
)
async def complete_goal(
    goal_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> GoalPublic:
    async with session.begin():
        mentorship, goal = await service.reach(session, principal, Goal, goal_id, lock=True)
        side = participant_side(mentorship, principal)
        await service.complete(
            session=session,
            mentorship=mentorship,
            goal=goal,
            author_id=principal.person_id,
            side=side,
        )
    return await _shown(session, goal, response)


@router.post(
    "/goals/{goal_id}/milestones",
    status_code=201,
    response_model=MilestonePublic,
    summary="Add a milestone (checkpoint) under an open goal",
)
async def add_milestone(
    goal_id: uuid.UUID, body: MilestoneCreate, principal: CurrentPrincipal, session: SessionDep
) -> MilestonePublic:
    async with session.begin():
        mentorship, goal = await service.reach(session, principal, Goal, goal_id, lock=True)
        participant_side(mentorship, principal)
        milestone = await service.add_milestone(
            session=session, mentorship=mentorship, goal=goal, data=body
        )
    return MilestonePublic.model_validate(milestone)


@router.post(
    "/milestones/{milestone_id}/achieve",
    response_model=MilestonePublic,
    summary="Mark a milestone achieved (once)",
)
async def achieve_milestone(
    milestone_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> MilestonePublic:
    async with session.begin():
        mentorship, milestone = await service.reach(
            session, principal, Milestone, milestone_id, lock=True
        )
        side = participant_side(mentorship, principal)
        await service.achieve(
            session=session,
            mentorship=mentorship,
            milestone=milestone,
            person_id=principal.person_id,
            side=side,
        )
    return MilestonePublic.model_validate(milestone)
