"""Preference routes: the caller's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from trellis_notifications import directory
from trellis_notifications.deps import CallerPersonId, SessionDep
from trellis_notifications.preferences import service
from trellis_notifications.preferences.models import PreferencesIn, PreferencesPublic
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.concurrency import etag, require_if_match

router = APIRouter(prefix="/notifications", tags=["preferences"])


async def _zone(session, principal, person_id) -> str:
    known = await directory.people(session, principal.org, [person_id])
    return known[person_id].time_zone if person_id in known else "UTC"


@router.get("/preferences", response_model=PreferencesPublic, summary="The caller's preferences")
async def read_preferences(
    principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep, response: Response
) -> PreferencesPublic:
    prefs = await service.effective(session, principal.org, person_id)
    response.headers["ETag"] = etag(prefs.version)
    return service.present(prefs, await _zone(session, principal, person_id))


@router.put(
    "/preferences",
    response_model=PreferencesPublic,
    summary="Replace the caller's preferences (If-Match honoured when sent)",
)
async def replace_preferences(
    body: PreferencesIn,
    principal: CurrentPrincipal,
    person_id: CallerPersonId,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PreferencesPublic:
    async with session.begin():
        if if_match is not None:
            current = await service.effective(session, principal.org, person_id)
            require_if_match(if_match, current.version)
        prefs = await service.replace(
            session=session, organization_id=principal.org, person_id=person_id, data=body
        )
    response.headers["ETag"] = etag(prefs.version)
    return service.present(prefs, await _zone(session, principal, person_id))
