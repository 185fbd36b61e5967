"""Mentorship routes: find them, read one, and move it through its life."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from trellis_sessions.mentorships import service
from trellis_sessions.mentorships.access import actor_of, side_of, visible
from trellis_sessions.mentorships.models import (
    Closing,
    End,
    EvaluationPublic,
    Mentorship,
    MentorshipPublic,
    MentorshipsPublic,
    Pause,
    Status,
)
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.concurrency import etag
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/sessions", tags=["mentorships"])


async def _shown(session, mentorship: Mentorship, response: Response) -> MentorshipPublic:
    response.headers["ETag"] = etag(mentorship.version)
    [public] = await service.present(session, [mentorship])
    return public


@router.get(
    "/mentorships",
    response_model=MentorshipsPublic,
    summary="Mentorships (members see their own; admins filter by person, program, state)",
)
async def list_mentorships(
    principal: CurrentPrincipal,
    session: SessionDep,
    person: Annotated[uuid.UUID | None, Query()] = None,
    program: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    at_risk: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MentorshipsPublic:
    if not principal.has_role("org_admin"):
        if principal.person_id is None or (person is not None and person != principal.person_id):
            raise Problem(403, "A member sees their own mentorships only")
        person = principal.person_id
    found, next_cursor = await service.list_for(
        session=session,
        organization_id=principal.org,
        person_id=person,
        program_id=program,
        status=status,
        at_risk=at_risk,
        limit=limit,
        cursor=cursor,
    )
    return MentorshipsPublic(data=await service.present(session, found), next_cursor=next_cursor)


@router.get("/mentorships/{mentorship_id}", response_model=MentorshipPublic, summary="One")
async def read_mentorship(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> MentorshipPublic:
    mentorship = await visible(session, principal, mentorship_id)
    return await _shown(session, mentorship, response)


@router.post(
    "/mentorships/{mentorship_id}/pause",
    response_model=MentorshipPublic,
    summary="Pause (with a reason and, optionally, the date it resumes by itself)",
)
async def pause_mentorship(
    mentorship_id: uuid.UUID,
    body: Pause,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> MentorshipPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        await service.pause(
            session=session,
            mentorship=mentorship,
            data=body,
            actor=actor_of(mentorship, principal),
        )
    return await _shown(session, mentorship, response)


@router.post(
    "/mentorships/{mentorship_id}/resume", response_model=MentorshipPublic, summary="Resume"
)
async def resume_mentorship(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> MentorshipPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        await service.resume(
            session=session, mentorship=mentorship, actor=actor_of(mentorship, principal)
        )
    return await _shown(session, mentorship, response)


@router.post(
    "/mentorships/{mentorship_id}/complete",
    response_model=MentorshipPublic,
    summary="Complete, with the caller's closing evaluation (the other side adds theirs later)",
)
async def complete_mentorship(
    mentorship_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    body: Closing | None = None,
) -> MentorshipPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        await service.complete(
            session=session,
            mentorship=mentorship,
            author_id=principal.person_id,
            closing=body,
            actor=actor_of(mentorship, principal),
        )
    return await _shown(session, mentorship, response)


@router.post(
    "/mentorships/{mentorship_id}/end",
    response_model=MentorshipPublic,
    summary="End early, with a reason",
)
async def end_mentorship(
    mentorship_id: uuid.UUID,
    body: End,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> MentorshipPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        await service.end(
            session=session, mentorship=mentorship, data=body, actor=actor_of(mentorship, principal)
        )
    return await _shown(session, mentorship, response)


@router.get(
    "/mentorships/{mentorship_id}/evaluations",
    response_model=list[EvaluationPublic],
    summary="Closing evaluations (admins see both; a participant sees their own)",
)
async def list_evaluations(
    mentorship_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[EvaluationPublic]:
    mentorship = await visible(session, principal, mentorship_id)
    own = side_of(mentorship, principal.person_id) is not None
    found = await service.evaluations(
        session=session,
        mentorship=mentorship,
        author_id=principal.person_id if own or not principal.has_role("org_admin") else None,
    )
    return [EvaluationPublic.model_validate(e) for e in found]
