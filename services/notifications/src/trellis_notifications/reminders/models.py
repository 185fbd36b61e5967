"""Reminders and check-in prompts as notifications keeps them: durable rows, so a restart or an
outage delays them but never loses them.

A meeting and a mentorship are known from sessions' events only (eventually consistent): the
views below hold what the reminders need, and the sequence / change time that lets a stale event
change nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field

from trellis_notifications.models import NotificationsTable, optional_timestamp, timestamp

# scheduled: waits for due_at; sent; cancelled: the meeting was cancelled, completed, or the lead
# left the person's preferences; skipped: never sent, and `reason` says why (the meeting had
# started, or moved closer than the lead).
REMINDER_STATUSES = ("scheduled", "sent", "cancelled", "skipped")


class Reminder(NotificationsTable, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "meeting_id", "lead_minutes", name="uq_reminder_lead"),
        sa.Index("ix_reminder_due", "due_at", postgresql_where=sa.text("status = 'scheduled'")),
        sa.Index("ix_reminder_meeting", "meeting_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_id: uuid.UUID
    other_id: uuid.UUID = Field(description="The other participant of the meeting")
    role: str = Field(description="mentor or mentee")
    meeting_id: uuid.UUID
    lead_minutes: int
    starts_at: datetime = timestamp()
    sequence: int = 0
    due_at: datetime = timestamp()
    status: str = "scheduled"
    reason: str | None = None
    # The source of the messages (inbox and email keys); a new one each time the reminder is armed
    # again for a new meeting time, so a moved meeting is reminded of once more.
    source_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    sent_at: datetime | None = optional_timestamp()
    late_by: timedelta | None = Field(default=None, sa_type=sa.Interval())
    attempts: int = 0
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class MeetingView(NotificationsTable, table=True):
    """A meeting as the last event about it described it."""

    __tablename__ = "meeting_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    starts_at: datetime = timestamp()
    ends_at: datetime = timestamp()
    time_zone: str
    mode: str
    location: str | None = None
    sequence: int = 0
    status: str = "scheduled"  # scheduled, cancelled, completed
    updated_at: datetime = timestamp()


class MentorshipView(NotificationsTable, table=True):
    """A mentorship's rhythm: when its participants are next asked how it is going."""

    __tablename__ = "mentorship_view"
    __table_args__ = (
        sa.Index(
            "ix_mentorship_view_prompt",
            "next_prompt_at",
            postgresql_where=sa.text("status = 'active'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    cadence_days: int
    status: str = "active"  # active, paused, completed, ended
    next_prompt_at: datetime | None = optional_timestamp()
    last_prompted_at: datetime | None = optional_timestamp()
    # The time of the event that last changed the row: an older event arriving late is ignored.
    changed_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class ReminderFacts(BaseModel):
    """What a reminder's template reads as `event` (and `when`, from starts_at)."""

    meeting_id: uuid.UUID
    mentorship_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    time_zone: str
    mode: str
    location: str | None
    lead_minutes: int


class CheckinFacts(BaseModel):
    """What a check-in prompt's template reads as `event`."""

    mentorship_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    cadence_days: int
