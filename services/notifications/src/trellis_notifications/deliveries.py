"""Email deliveries: one row per person, source and template, written when the message is decided
and sent later by the email worker (so a slow or failing SMTP server never blocks a consumer)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field

from trellis_notifications.models import NotificationsTable, optional_timestamp, timestamp

# queued: goes out once due_at has passed (quiet hours push due_at to the window's end);
# digest: goes out in the person's next daily digest (due_at); sent; failed: gave up after
# retries; suppressed: will never go out (the person was erased, or switched the channel off);
# expired: was still unsent at its not_after, when it would have said something no longer true.
STATUSES = ("queued", "digest", "sent", "failed", "suppressed", "expired")


class EmailDelivery(NotificationsTable, table=True):
    __tablename__ = "email_delivery"
    __table_args__ = (
        # Never twice for the same source (event or reminder), person and template.
        sa.UniqueConstraint("person_id", "source_id", "template", name="uq_email_delivery_source"),
        sa.Index("ix_email_delivery_due", "due_at", postgresql_where=sa.text("status = 'queued'")),
        sa.Index(
            "ix_email_delivery_digest",
            "person_id",
            "due_at",
            postgresql_where=sa.text("status = 'digest'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_id: uuid.UUID
    source_id: uuid.UUID
    template: str
    category: str
    critical: bool = False
    locale: str = "en"
    context: dict = Field(default_factory=dict, sa_type=pg.JSONB)
    to_address: str | None = None
    status: str = "queued"
    delayed_for: str | None = Field(default=None, description="quiet_hours, when it waits")
    due_at: datetime = timestamp()
    # The first due time (set by the email worker when it claims the row; due_at then moves with
    # leases and retries), so a message sent late can say how late.
    planned_at: datetime | None = optional_timestamp()
    # Past this, the message is dropped rather than sent (a meeting reminder once the meeting has
    # started: "starts in 1 hour" would be wrong); None for messages that stay true.
    not_after: datetime | None = optional_timestamp()
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
