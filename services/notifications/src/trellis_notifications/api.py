"""Notifications HTTP routes: the caller's own in-app inbox, also as a live stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from trellis_notifications import service
from trellis_notifications.deps import CallerPersonId, SessionDep
from trellis_notifications.models import InboxItemPublic, InboxPublic
from trellis_shared.auth import CurrentPrincipal
from trellis_shared.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/notifications", tags=["inbox"])
LOOKBACK = timedelta(seconds=10)


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


@router.post("/inbox/read-all", summary="Mark every item read; answers how many changed")
async def mark_all_read(
    principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep
) -> dict[str, int]:
    async with session.begin():
        changed = await service.mark_all_read(
            session=session, organization_id=principal.org, person_id=person_id
        )
    return {"marked_read": changed, "unread_count": 0}


@router.get(
    "/inbox/stream",
    response_class=EventSourceResponse,
    summary="Live inbox: Server-Sent Events, one `notification` event per new item",
    description="Resumable: send the last received event id back as `Last-Event-ID` and the "
    "items created since then are sent first. Without it, the stream starts with the next item.",
)
async def stream_inbox(
    request: Request,
    principal: CurrentPrincipal,
    person_id: CallerPersonId,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> AsyncIterator[ServerSentEvent]:
    resumed = decode_cursor(last_event_id) if last_event_id else None
    since = resumed[0] if resumed else datetime.now(UTC)
    after = resumed or (since, uuid.UUID(int=0))
    floor = after  # never look back past where the stream started (or was resumed)
    sent: dict[uuid.UUID, datetime] = {}
    runtime = request.app.state.runtime
    async with request.app.state.inbox_hub.subscribe(person_id) as wake:
        while True:
            async with runtime.sessionmaker() as session:
                items = await service.inbox_since(
                    session=session, organization_id=principal.org, person_id=person_id, after=after
                )
            for item in items:
                if item.id in sent:
                    continue
                sent[item.id] = item.created_at
                since = max(since, item.created_at)
                yield ServerSentEvent(
                    event="notification",
                    id=encode_cursor(item.created_at, item.id),
                    data=InboxItemPublic.model_validate(item, from_attributes=True).model_dump(
                        mode="json"
                    ),
                )
            # Items are stamped before their transaction commits, so one committed a moment later
            # can carry an earlier stamp than one already sent: look back a little each time and
            # skip what was sent.
            after = max(floor, (since - LOOKBACK, uuid.UUID(int=0)))
            sent = {i: at for i, at in sent.items() if at >= since - 2 * LOOKBACK}
            await wake.get()
