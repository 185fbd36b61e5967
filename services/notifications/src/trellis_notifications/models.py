"""Notifications' table base, column helpers and the in-app inbox item."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class NotificationsTable(SQLModel, registry=registry()):
    """Base of the tables notifications owns."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)


def optional_timestamp() -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True))


class InboxItemBase(SQLModel):
    kind: str = Field(description="What happened, e.g. `welcome`, `meeting_scheduled`")
    category: str = Field(default="account", description="The preference category it belongs to")
    title: str
    body: str
    link: str | None = None


class InboxItem(InboxItemBase, NotificationsTable, table=True):
    __tablename__ = "inbox_item"
    __table_args__ = (
        # One item per person per source (an event or a reminder): a redelivery adds nothing.
        sa.UniqueConstraint("person_id", "source_event_id", name="uq_inbox_item_person_event"),
        sa.Index(
            "ix_inbox_item_person_created", "organization_id", "person_id", "created_at", "id"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_id: uuid.UUID
    source_event_id: uuid.UUID
    created_at: datetime = timestamp()
    read_at: datetime | None = optional_timestamp()


class InboxItemPublic(InboxItemBase):
    id: uuid.UUID
    created_at: datetime
    read_at: datetime | None


class InboxPublic(SQLModel):
    data: list[InboxItemPublic]
    next_cursor: str | None = None
    unread_count: int
