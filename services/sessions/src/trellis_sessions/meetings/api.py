"""Meeting routes: schedule (once or recurring), list, read, reschedule, cancel, complete, and the
author's private note. The iCalendar routes live in calendar_api and are mounted first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings import present, queries, service
from trellis_sessions.meetings.calendar_api import router as calendar_router
from trellis_sessions.meetings.calendar_api import visible_meeting
from trellis_sessions.meetings.models import (
    Cancel,
    Complete,
    Meeting,
    MeetingCreate,
    MeetingPublic,
    MeetingsPublic,
    MeetingStatus,
    PrivateNote,
    PrivateNotePublic,
    Reschedule,
    SeriesPublic,
)
from trellis_sessions.mentorships.access import actor_of, participant_side, visible
from trellis_sessions.mentorships.models import Mentorship
from trellis_shared.auth import CurrentPrincipal, Principal
from trellis_shared.concurrency import etag
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/sessions", tags=["meetings"])
# `/meetings/{id}.ics` must be matched before `/meetings/{id}` would take "….ics" as the id.
router.include_router(calendar_router)

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200)]


async def _shown(
    session: AsyncSession, principal: Principal, meeting: Meeting, response: Response
) -> MeetingPublic:
    response.headers["ETag"] = etag(meeting.version)
    [public] = await present.present(session, [meeting], viewer_id=principal.person_id)
    return public


async def _locked(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID
) -> tuple[Mentorship, Meeting]:
    """Lock the mentorship, then the meeting: every writer takes them in this order."""
    meeting, _ = await visible_meeting(session, principal, meeting_id)
    try:
        mentorship = await visible(session, principal, meeting.mentorship_id, lock=True)
    except Problem as exc:
        raise Problem(404, f"No meeting {meeting_id}") from exc
    return mentorship, await queries.get(session, principal.org, meeting_id, lock=True)


@router.post(
    "/mentorships/{mentorship_id}/meetings",
    status_code=201,
    response_model=MeetingPublic | SeriesPublic,
    summary="Schedule a meeting, or a series of them with an RRULE (participants and admins)",
)
async def schedule_meeting(
    mentorship_id: uuid.UUID,
    body: MeetingCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
) -> MeetingPublic | SeriesPublic:
    async with session.begin():
        mentorship = await visible(session, principal, mentorship_id, lock=True)
        series, meetings = await service.schedule(
            session=session,
            mentorship=mentorship,
            data=body,
            author_id=principal.person_id,
            actor=actor_of(mentorship, principal),
        )
    response.headers["Location"] = f"/sessions/meetings/{meetings[0].id}"
    shown = await present.present(
        session, meetings, viewer_id=principal.person_id, mentorships={mentorship.id: mentorship}
    )
    if series is None:
        response.headers["ETag"] = etag(meetings[0].version)
        return shown[0]
    return SeriesPublic(
        series_id=series.id,
        rrule=series.rrule,
        time_zone=series.time_zone,
        local_start=series.local_start,
        duration_minutes=series.duration_minutes,
        occurrences=shown,
    )


@router.get(
    "/mentorships/{mentorship_id}/meetings",
    response_model=MeetingsPublic,
    summary="The mentorship's meetings in time order, optionally within [from, to)",
)
async def list_meetings(
    mentorship_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    status: Annotated[MeetingStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MeetingsPublic:
    mentorship = await visible(session, principal, mentorship_id)
    found, next_cursor = await queries.list_for(
        session=session,
        mentorship=mentorship,
        since=since,
        until=until,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    shown = await present.present(
        session, found, viewer_id=principal.person_id, mentorships={mentorship.id: mentorship}
    )
    return MeetingsPublic(data=shown, next_cursor=next_cursor)


@router.get("/meetings/{meeting_id}", response_model=MeetingPublic, summary="One meeting")
async def read_meeting(
    meeting_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep, response: Response
) -> MeetingPublic:
    meeting, _ = await visible_meeting(session, principal, meeting_id)
    return await _shown(session, principal, meeting, response)


@router.post(
    "/meetings/{meeting_id}/reschedule",
    response_model=MeetingPublic,
    summary="Move one occurrence (If-Match honoured when sent)",
)
async def reschedule_meeting(
    meeting_id: uuid.UUID,
    body: Reschedule,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> MeetingPublic:
    async with session.begin():
        mentorship, meeting = await _locked(session, principal, meeting_id)
        await service.reschedule(
            session=session,
            mentorship=mentorship,
            meeting=meeting,
            data=body,
            if_match=if_match,
            actor=actor_of(mentorship, principal),
        )
    return await _shown(session, principal, meeting, response)


@router.post(
    "/meetings/{meeting_id}/cancel",
    response_model=MeetingsPublic,
    summary="Cancel this occurrence, or it and the following ones of its series",
)
async def cancel_meeting(
    meeting_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    body: Cancel | None = None,
    if_match: IfMatch = None,
) -> MeetingsPublic:
    async with session.begin():
        mentorship, meeting = await _locked(session, principal, meeting_id)
        cancelled = await service.cancel(
            session=session,
            mentorship=mentorship,
            meeting=meeting,
            data=body or Cancel(),
            if_match=if_match,
            author_id=principal.person_id,
            actor=actor_of(mentorship, principal),
        )
    shown = await present.present(
        session, cancelled, viewer_id=principal.person_id, mentorships={mentorship.id: mentorship}
    )
    return MeetingsPublic(data=shown)


@router.post(
    "/meetings/{meeting_id}/complete",
    response_model=MeetingPublic,
    summary="Record that it took place: attendance, shared notes, the caller's private note",
)
async def complete_meeting(
    meeting_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    response: Response,
    body: Complete | None = None,
    if_match: IfMatch = None,
) -> MeetingPublic:
    body = body or Complete()
    async with session.begin():
        mentorship, meeting = await _locked(session, principal, meeting_id)
        if body.private_note is not None:
            participant_side(mentorship, principal)
        await service.complete(
            session=session,
            mentorship=mentorship,
            meeting=meeting,
            data=body,
            if_match=if_match,
            author_id=principal.person_id,
            actor=actor_of(mentorship, principal),
        )
    return await _shown(session, principal, meeting, response)


@router.put(
    "/meetings/{meeting_id}/private-note",
    response_model=PrivateNotePublic,
    summary="Write or replace the caller's private note (visible to them alone)",
)
async def write_private_note(
    meeting_id: uuid.UUID, body: PrivateNote, principal: CurrentPrincipal, session: SessionDep
) -> PrivateNotePublic:
    async with session.begin():
        meeting, mentorship = await visible_meeting(session, principal, meeting_id)
        participant_side(mentorship, principal)
        assert principal.person_id is not None  # a participant is a person
        note = await service.write_note(
            session=session, meeting=meeting, author_id=principal.person_id, body=body.body
        )
    return PrivateNotePublic.model_validate(note)
