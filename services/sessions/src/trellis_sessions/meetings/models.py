"""Meetings, the series they recur in, private notes, calendar feed tokens; and the API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField

from trellis_sessions.mentorships.models import Side
from trellis_sessions.models import SessionsTable, optional_timestamp, timestamp

Mode = Literal["video", "in_person", "phone"]
MeetingStatus = Literal["scheduled", "cancelled", "completed"]
ZoneName = Field(default=None, min_length=1, max_length=64, description="An IANA zone")
Minutes = Field(default=None, ge=1, le=480, description="1 to 480 (8 hours)")
Start = Field(
    description="Local date-time in `time_zone` (an offset, if given, is converted to that zone)"
)


class MeetingSeries(SessionsTable, table=True):
    """A recurring plan: the rule and the wall time it repeats in; each occurrence is a meeting."""

    __tablename__ = "meeting_series"

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id")
    rrule: str
    time_zone: str
    local_start: datetime = SQLField(sa_type=sa.DateTime(timezone=False))
    duration_minutes: int
    created_by: uuid.UUID | None = None
    created_at: datetime = timestamp()


class Meeting(SessionsTable, table=True):
    __table_args__ = (
        sa.Index("ix_meeting_mentorship_starts", "mentorship_id", "starts_at"),
        sa.Index("ix_meeting_series", "series_id", "occurrence"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id")
    series_id: uuid.UUID | None = SQLField(default=None, foreign_key="meeting_series.id")
    occurrence: int | None = None
    starts_at: datetime = SQLField(sa_type=sa.DateTime(timezone=True))
    ends_at: datetime = SQLField(sa_type=sa.DateTime(timezone=True))
    time_zone: str
    duration_minutes: int
    mode: str
    location: str | None = None
    agenda: str | None = None
    status: str = "scheduled"
    cancel_reason: str | None = None
    cancelled_at: datetime | None = optional_timestamp()
    # Who wrote the free texts, so that erasing a person blanks exactly what they wrote.
    cancelled_by: uuid.UUID | None = None
    completed_at: datetime | None = optional_timestamp()
    attended: list[str] = SQLField(
        default_factory=list,
        sa_column=sa.Column(JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    shared_notes: str | None = None
    shared_notes_by: uuid.UUID | None = None
    sequence: int = 0
    created_by: uuid.UUID | None = None
    created_at: datetime = timestamp()
    version: int = 1


class MeetingNote(SessionsTable, table=True):
    """A participant's private note on a meeting: shown to its author, and to no one else."""

    __tablename__ = "meeting_note"

    meeting_id: uuid.UUID = SQLField(foreign_key="meeting.id", primary_key=True)
    author_id: uuid.UUID = SQLField(primary_key=True)
    organization_id: uuid.UUID
    body: str | None = None
    updated_at: datetime = timestamp()


class CalendarFeed(SessionsTable, table=True):
    """A person's secret calendar URL; only the token's SHA-256 is kept."""

    __tablename__ = "calendar_feed"

    organization_id: uuid.UUID = SQLField(primary_key=True)
    person_id: uuid.UUID = SQLField(primary_key=True)
    token_sha256: str = SQLField(unique=True)
    created_at: datetime = timestamp()


# --- API ---------------------------------------------------------------------------------------


class MeetingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Start
    time_zone: str | None = ZoneName
    duration_minutes: int | None = Minutes
    recurrence: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="An RRULE with COUNT or UNTIL, e.g. FREQ=WEEKLY;INTERVAL=2;COUNT=6",
    )
    mode: Mode = "video"
    location: str | None = Field(default=None, max_length=500, description="Link or place")
    agenda: str | None = Field(default=None, max_length=4000)


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Start
    time_zone: str | None = ZoneName
    duration_minutes: int | None = Minutes


class Cancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)
    scope: Literal["this", "following"] = Field(
        default="this", description="This occurrence, or it and every later one of its series"
    )


class Complete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attended: list[uuid.UUID] = Field(default=[], max_length=2, description="Participants only")
    shared_notes: str | None = Field(default=None, max_length=10000)
    private_note: str | None = Field(default=None, max_length=10000)


class PrivateNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=10000)


class LocalTime(BaseModel):
    person_id: uuid.UUID
    side: Side
    time_zone: str = Field(description="Their own zone (the meeting's while it is unknown)")
    start: datetime
    end: datetime


class MeetingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentorship_id: uuid.UUID
    series_id: uuid.UUID | None
    occurrence: int | None
    status: MeetingStatus
    starts_at: datetime = Field(description="UTC")
    ends_at: datetime = Field(description="UTC")
    time_zone: str = Field(description="The zone it was planned in")
    local_start: datetime | None = Field(default=None, description="Start in `time_zone`")
    local_times: list[LocalTime] = []
    duration_minutes: int
    mode: Mode
    location: str | None
    agenda: str | None
    cancel_reason: str | None
    cancelled_at: datetime | None
    completed_at: datetime | None
    attended: list[uuid.UUID]
    shared_notes: str | None
    private_note: str | None = Field(default=None, description="The caller's own, if any")
    sequence: int
    created_at: datetime
    version: int


class MeetingsPublic(BaseModel):
    data: list[MeetingPublic]
    next_cursor: str | None = None


class SeriesPublic(BaseModel):
    series_id: uuid.UUID
    rrule: str
    time_zone: str
    local_start: datetime = Field(description="Wall time of the first occurrence (no offset)")
    duration_minutes: int
    occurrences: list[MeetingPublic]


class PrivateNotePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    meeting_id: uuid.UUID
    body: str | None
    updated_at: datetime


class FeedPublic(BaseModel):
    url: str = Field(description="Secret: anyone with it can read the calendar")
    webcal_url: str = Field(description="The same URL as webcal://, for a subscribe link")
