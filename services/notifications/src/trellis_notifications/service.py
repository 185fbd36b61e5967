"""Notifications domain rules: what lands in whose inbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.models import InboxItem
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem


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
    items, next_cursor = await keyset_page(
        session, query, InboxItem, limit=limit, cursor=cursor, newest_first=True
    )
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


async def mark_all_read(
    *, session: AsyncSession, organization_id: uuid.UUID, person_id: uuid.UUID
) -> int:
    """Mark every unread item of the person read; how many there were."""
    result = await session.execute(
        sa.update(InboxItem)
        .where(
            InboxItem.organization_id == organization_id,
            InboxItem.person_id == person_id,
            col(InboxItem.read_at).is_(None),
        )
        .values(read_at=datetime.now(UTC))
    )
    return result.rowcount or 0


async def inbox_since(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID],
    limit: int = 100,
) -> list[InboxItem]:
    """The person's items created after `after` (created_at, id), oldest first."""
    query = (
        select(InboxItem)
        .where(
            InboxItem.organization_id == organization_id,
            InboxItem.person_id == person_id,
            sa.tuple_(InboxItem.created_at, InboxItem.id) > sa.tuple_(*after),
        )
        .order_by(col(InboxItem.created_at), col(InboxItem.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())
