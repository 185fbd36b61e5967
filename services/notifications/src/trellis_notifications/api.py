"""Notifications HTTP routes: the caller's own in-app inbox, also as a live stream (opened with a
bearer token, or with a single-use ticket where the client cannot send headers: stream_tickets)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent

from trellis_notifications import service, stream_tickets
from trellis_notifications.deps import CallerPersonId, SessionDep, person_of
from trellis_notifications.models import InboxItemPublic, InboxPublic
from trellis_notifications.stream_tickets import StreamTicketPublic
from trellis_shared.auth import CurrentPrincipal, authenticate
from trellis_shared.pagination import decode_cursor, encode_cursor
from trellis_shared.problems import Problem

router = APIRouter(prefix="/notifications", tags=["inbox"])
LOOKBACK = timedelta(seconds=10)
# Declares the bearer scheme on the stream's OpenAPI entry; `_stream_caller` reads the header.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


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


@router.post(
    "/inbox/stream-tickets",
    status_code=201,
    response_model=StreamTicketPublic,
    summary="A single-use ticket that opens the caller's live inbox stream within 60 seconds",
    description="For clients that cannot send an `Authorization` header (a browser's "
    "`EventSource`): open `GET /notifications/inbox/stream?ticket=...` with it.",
)
async def issue_stream_ticket(
    principal: CurrentPrincipal, person_id: CallerPersonId, session: SessionDep
) -> StreamTicketPublic:
    async with session.begin():
        ticket, expires_at = await stream_tickets.issue(
            session=session, organization_id=principal.org, person_id=person_id
        )
    return StreamTicketPublic(ticket=ticket, expires_at=expires_at)


def _bad_ticket(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="trellis"'})


async def _stream_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ticket: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=512,
            description="From `POST /notifications/inbox/stream-tickets`, instead of a bearer "
            "token; good for one stream within 60 seconds",
        ),
    ] = None,
) -> tuple[uuid.UUID, uuid.UUID]:
    """The (organization, person) whose stream this is: from the ticket, or the bearer token."""
    if ticket is None:
        principal = await authenticate(request)
        return principal.org, await person_of(principal, request)
    async with request.app.state.runtime.sessionmaker() as session, session.begin():
        owner = await stream_tickets.redeem(session=session, ticket=ticket)
    if owner is None:
        raise _bad_ticket(
            "This stream ticket is unknown, already used or expired: ask for a new one"
        )
    if request.headers.get("authorization"):
        # Both credentials sent: they must name the same caller, or neither is trusted.
        principal = await authenticate(request)
        if (principal.org, principal.person_id) != owner:
            raise _bad_ticket("This stream ticket was issued to someone else")
    return owner


@router.get(
    "/inbox/stream",
    response_class=EventSourceResponse,
    summary="Live inbox: Server-Sent Events, one `notification` event per new item",
    description="Authenticated by a bearer token or by `?ticket=` (see `POST "
    "/notifications/inbox/stream-tickets`). Resumable: send the last received event id back as "
    "`Last-Event-ID` (or, from a new `EventSource`, as `?last_event_id=`) and the items created "
    "since then are sent first. Without it, the stream starts with the next item.",
)
async def stream_inbox(
    request: Request,
    caller: Annotated[tuple[uuid.UUID, uuid.UUID], Depends(_stream_caller)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
    resume_from: Annotated[
        str | None,
        Query(alias="last_event_id", max_length=200, description="As the `Last-Event-ID` header"),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    organization_id, person_id = caller
    last_event_id = last_event_id or resume_from
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
                    session=session,
                    organization_id=organization_id,
                    person_id=person_id,
                    after=after,
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
