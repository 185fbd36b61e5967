"""Notifications HTTP routes: the caller's own in-app inbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from trellis_notifications import service
from trellis_notifications.deps import CallerPersonId, SessionDep
from trellis_notifications.models import InboxItemPublic, InboxPublic
from trellis_shared.auth import CurrentPrincipal

router = APIRouter(prefix="/notifications", tags=["inbox"])


@router.get(
    "/inbox", response_model=InboxPublic, summary="The caller's in-app notifications, newest first"
)
async def read_inbox(
    principal: CurrentPrincipal,
    person_id: CallerPersonId,
    session: SessionDep,
    unread: Annotated[bool, Query(description="Only unread items")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> InboxPublic:
    items, next_cursor, unread_count = await service.list_inbox(
        session=session,
        organization_id=principal.org,
        person_id=person_id,
        unread_only=unread,
        limit=limit,
        cursor=cursor,
    )
    return InboxPublic(
        data=[InboxItemPublic.model_validate(i, from_attributes=True) for i in items],
        next_cursor=next_cursor,
        unread_count=unread_count,
    )


@router.post("/inbox/{item_id}/read", response_model=InboxItemPublic, summary="Mark an item read")
async def mark_read(
    item_id: uuid.UUID, principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep
) -> InboxItemPublic:
    async with session.begin():
        item = await service.mark_read(
            session=session, organization_id=principal.org, person_id=person_id, item_id=item_id
        )
    return InboxItemPublic.model_validate(item, from_attributes=True)
