"""Routes of the pulse area: check-ins and feedback."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from trellis_sessions.mentorships.access import participant_side, visible
from trellis_sessions.pulse import service
from trellis_sessions.pulse.models import (
    CheckinCreate,
    CheckinPublic,
    CheckinsPublic,
    FeedbackCreate,
    FeedbackPublic,
    FeedbacksPublic,
)
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.db import SessionDep

router = APIRouter(prefix="/sessions", tags=["pulse"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.post(
    "/mentorships/{mentorship_id}/checkins",
    status_code=201,
    response_model=CheckinPublic,
    summary="Check in: how is it going (1-5) and what is in the way (a participant)",
)
async def check_in(
    mentorship_id: uuid.UUID,
    body: CheckinCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> CheckinPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        side = participant_side(mentorship, principal)
        checkin = await service.check_in(
            session=session,
            mentorship=mentorship,
            author_id=principal.person_id,
            side=side,
            data=body,
        )
    return CheckinPublic.model_validate(checkin)


@router.get(
    "/mentorships/{mentorship_id}/checkins",
    response_model=CheckinsPublic,
    summary="Check-ins, newest first (the other side's show their rating and date only)",
)
async def list_checkins(
    mentorship_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CheckinsPublic:
    mentorship = await visible(session, principal, mentorship_id)
    data, next_cursor = await service.checkins(
        session=session,
        mentorship=mentorship,
        viewer=principal.person_id,
        admin=principal.has_role("org_admin"),
        limit=limit,
        cursor=cursor,
    )
    return CheckinsPublic(data=data, next_cursor=next_cursor)


@router.post(
    "/mentorships/{mentorship_id}/feedback",
    status_code=201,
    response_model=FeedbackPublic,
    summary="Feedback on a completed meeting (once) or on the mentorship, with its visibility",
)
async def give_feedback(
    mentorship_id: uuid.UUID,
    body: FeedbackCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> FeedbackPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        side = participant_side(mentorship, principal)
        feedback = await service.give_feedback(
            session=session,
            mentorship=mentorship,
            author_id=principal.person_id,
            side=side,
            data=body,
        )
    return FeedbackPublic.model_validate(feedback)


@router.get(
    "/mentorships/{mentorship_id}/feedback",
    response_model=FeedbacksPublic,
    summary="The feedback you may read: shared, your own, and (admins) program-admin feedback",
)
async def list_feedback(
    mentorship_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    meeting: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FeedbacksPublic:
    mentorship = await visible(session, principal, mentorship_id)
    found, next_cursor = await service.feedback(
        session=session,
        mentorship=mentorship,
        viewer=principal.person_id,
        admin=principal.has_role("org_admin"),
        meeting_id=meeting,
        limit=limit,
        cursor=cursor,
    )
    return FeedbacksPublic(
        data=[FeedbackPublic.model_validate(f) for f in found], next_cursor=next_cursor
    )
