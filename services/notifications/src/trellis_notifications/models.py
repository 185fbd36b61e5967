"""Notifications tables and API models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class NotificationsTable(SQLModel, registry=registry()):
    """Base of the tables notifications owns."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InboxItemBase(SQLModel):
    kind: str = Field(description="What happened, e.g. `welcome`")
    title: str
    body: str
    link: str | None = None


class InboxItem(InboxItemBase, NotificationsTable, table=True):
    __tablename__ = "inbox_item"
    __table_args__ = (
        # One item per person per source event: a redelivered event can never add a second.
        sa.UniqueConstraint("person_id", "source_event_id", name="uq_inbox_item_person_event"),
        sa.Index(
            "ix_inbox_item_person_created", "organization_id", "person_id", "created_at", "id"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_id: uuid.UUID
    source_event_id: uuid.UUID
    created_at: datetime = Field(default_factory=_utcnow, sa_type=sa.DateTime(timezone=True))
    read_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class InboxItemPublic(InboxItemBase):
    id: uuid.UUID
    created_at: datetime
    read_at: datetime | None


class InboxPublic(SQLModel):
    data: list[InboxItemPublic]
    next_cursor: str | None = None
    unread_count: int
