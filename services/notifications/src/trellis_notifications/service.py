"""Notifications domain rules: what lands in whose inbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.models import InboxItem
from trellis_shared.pagination import decode_cursor, encode_cursor
from trellis_shared.problems import Problem


async def add_inbox_item(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    source_event_id: uuid.UUID,
    kind: str,
    title: str,
    body: str,
    link: str | None = None,
) -> None:
    """Store an in-app notification (once per person and source event)."""
    session.add(
        InboxItem(
            organization_id=organization_id,
            person_id=person_id,
            source_event_id=source_event_id,
            kind=kind,
            title=title,
            body=body,
            link=link,
        )
    )
    await session.flush()


async def list_inbox(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    unread_only: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[InboxItem], str | None, int]:
    """The person's items, newest first, with the next cursor and the unread count."""
    mine = (InboxItem.organization_id == organization_id, InboxItem.person_id == person_id)
    query = select(InboxItem).where(*mine)
    if unread_only:
        query = query.where(col(InboxItem.read_at).is_(None))
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(sa.tuple_(InboxItem.created_at, InboxItem.id) < sa.tuple_(at, last_id))
    query = query.order_by(col(InboxItem.created_at).desc(), col(InboxItem.id).desc()).limit(
        limit + 1
    )
    items = list((await session.exec(query)).all())
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id)
    unread = await session.scalar(
        select(func.count()).select_from(InboxItem).where(*mine, col(InboxItem.read_at).is_(None))
    )
    return items, next_cursor, int(unread or 0)


async def mark_read(
    *, session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID, item_id: uuid.UUID
) -> InboxItem:
    """Mark one of the person's own items read; someone else's item is not found."""
    item = (
        await session.exec(
            select(InboxItem).where(
                InboxItem.id == item_id,
                InboxItem.organization_id == organization_id,
                InboxItem.person_id == person_id,
            )
        )
    ).first()
    if item is None:
        raise Problem(404, f"No inbox item {item_id}")
    if item.read_at is None:
        item.read_at = datetime.now(UTC)
        session.add(item)
    return item
