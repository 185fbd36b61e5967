"""The mentorship and its closing evaluations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Field as SQLField

from trellis_sessions.models import SessionsTable, optional_timestamp, timestamp

Status = Literal["active", "paused", "completed", "ended"]
Side = Literal["mentor", "mentee"]
GoalsMet = Literal["fully", "partly", "not_at_all"]
Reason = Field(min_length=1, max_length=500)


class Mentorship(SessionsTable, table=True):
    __table_args__ = (
        sa.Index("ix_mentorship_mentor", "organization_id", "mentor_id", "status"),
        sa.Index("ix_mentorship_mentee", "organization_id", "mentee_id", "status"),
        sa.Index("ix_mentorship_program", "organization_id", "program_id", "status"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID
    # One mentorship per match: a redelivered or duplicated match.accepted finds it taken.
    match_id: uuid.UUID = SQLField(unique=True)
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    match_score: float | None = None
    status: str = "active"
    cadence_days: int
    meeting_minutes: int
    pause_reason: str | None = None
    resume_on: date | None = None
    end_reason: str | None = None
    started_at: datetime = timestamp()
    paused_at: datetime | None = optional_timestamp()
    resumed_at: datetime | None = optional_timestamp()
    completed_at: datetime | None = optional_timestamp()
    ended_at: datetime | None = optional_timestamp()
    # Written by the health sweep: the last score and since when the mentorship is at risk.
    health_score: int | None = None
    health_checked_at: datetime | None = optional_timestamp()
    at_risk_since: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()
    version: int = 1


class Evaluation(SessionsTable, table=True):
    """One side's closing evaluation of the mentorship."""

    __table_args__ = (sa.UniqueConstraint("mentorship_id", "author_id"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id", index=True)
    author_id: uuid.UUID
    side: str
    rating: int
    goals_met: str
    would_recommend: bool
    comments: str | None = None
    created_at: datetime = timestamp()


# --- API ---------------------------------------------------------------------------------------


class Participant(BaseModel):
    person_id: uuid.UUID
    side: Side
    full_name: str | None = Field(description="Unknown until profiles' event has arrived")
    time_zone: str | None


class MentorshipPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program_id: uuid.UUID
    match_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    participants: list[Participant] = []
    status: Status
    match_score: float | None
    cadence_days: int
    meeting_minutes: int
    pause_reason: str | None
    resume_on: date | None
    end_reason: str | None
    started_at: datetime
    paused_at: datetime | None
    completed_at: datetime | None
    ended_at: datetime | None
    health_score: int | None
    at_risk: bool = False
    version: int


class MentorshipsPublic(BaseModel):
    data: list[MentorshipPublic]
    next_cursor: str | None = None


class Pause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Reason
    resume_on: date | None = Field(default=None, description="When it picks up again by itself")


class End(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Reason


class Closing(BaseModel):
    """A participant's closing evaluation (an org admin may complete without one)."""

    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5, description="How valuable was the mentorship, 1-5")
    goals_met: GoalsMet
    would_recommend: bool
    comments: str | None = Field(default=None, max_length=4000)


class EvaluationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentorship_id: uuid.UUID
    author_id: uuid.UUID
    side: Side
    rating: int
    goals_met: GoalsMet
    would_recommend: bool
    comments: str | None
    created_at: datetime
