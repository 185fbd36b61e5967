"""iCalendar routes: a meeting's invite (bearer), and a person's feed, managed with a bearer and
read without one (calendar apps cannot send one: the secret URL is the credential)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions.meetings import feed, ics, queries
from trellis_sessions.meetings.models import FeedPublic, Meeting
from trellis_sessions.mentorships.access import visible
from trellis_sessions.mentorships.models import Mentorship
from trellis_shared.auth import CurrentPrincipal, Principal
from trellis_shared.db import SessionDep, settings_of
from trellis_shared.problems import Problem

router = APIRouter(tags=["calendar"])


async def visible_meeting(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID
) -> tuple[Meeting, Mentorship]:
    """The meeting and its mentorship, for its participants and org admins; else 404."""
    meeting = await queries.get(session, principal.org, meeting_id)
    try:
        mentorship = await visible(session, principal, meeting.mentorship_id)
    except Problem as exc:
        # Say "no meeting", not "no mentorship <id>": a stranger learns nothing from the id.
        raise Problem(404, f"No meeting {meeting_id}") from exc
    return meeting, mentorship


def _calendar(body: bytes, filename: str) -> Response:
    return Response(
        content=body,
        media_type=ics.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-cache",
        },
    )


@router.get(
    "/meetings/{meeting_id}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="The meeting as an iCalendar invite (REQUEST, or CANCEL once cancelled)",
)
async def meeting_invite(
    meeting_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    meeting, mentorship = await visible_meeting(session, principal, meeting_id)
    casts = await feed.casts(session, [mentorship])
    return _calendar(ics.invite(meeting, cast=casts[mentorship.id]), f"{meeting.id}.ics")


@router.post(
    "/calendar/feed",
    status_code=201,
    response_model=FeedPublic,
    summary="Create the caller's calendar feed URL, or rotate it (the old URL stops working)",
)
async def create_feed(principal: CurrentPrincipal, session: SessionDep) -> FeedPublic:
    if principal.person_id is None or not principal.has_role("member"):
        raise Problem(403, "Only a member has a calendar of their own meetings")
    async with session.begin():
        token = await feed.rotate(
            session, organization_id=principal.org, person_id=principal.person_id
        )
    url = feed.url_of(settings_of(session).public_base_url, token)
    return FeedPublic(url=url, webcal_url=feed.webcal_of(url))


@router.delete("/calendar/feed", status_code=204, summary="Revoke the caller's calendar feed URL")
async def revoke_feed(principal: CurrentPrincipal, session: SessionDep) -> Response:
    if principal.person_id is None:
        raise Problem(403, "Only a member has a calendar of their own meetings")
    async with session.begin():
        await feed.revoke(session, organization_id=principal.org, person_id=principal.person_id)
    return Response(status_code=204)


@router.get(
    "/calendar/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="A person's meetings as a subscribable calendar (no bearer: the URL is secret)",
)
async def read_feed(token: str, session: SessionDep) -> Response:
    owner = await feed.owner_of(session, token)
    if owner is None:
        raise Problem(404, "No such calendar feed")
    meetings, mentorships = await feed.meetings_of(
        session, organization_id=owner.organization_id, person_id=owner.person_id
    )
    casts = await feed.casts(session, list(mentorships.values()))
    body = ics.feed(
        ((m, casts[m.mentorship_id]) for m in meetings), name="Trellis mentoring meetings"
    )
    return _calendar(body, "trellis.ics")
