"""The plan's tables: the agreement, goals, their milestones and the progress recorded on them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_sessions.models import SessionsTable, optional_timestamp, timestamp

Channel = Literal["video", "phone", "chat", "email", "in_person"]
GoalStatus = Literal["open", "completed", "dropped"]
AgreementState = Literal["draft", "partially_signed", "signed"]


class Agreement(SessionsTable, table=True):
    """What the two agreed: goals, each side's expectations, cadence, channels, boundaries.

    One per mentorship. Signatures hold for the version they were given on: any change clears
    both and bumps the version, so a signed agreement is always the text both of them read.
    """

    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id", primary_key=True)
    organization_id: uuid.UUID
    goals: list[str] = SQLField(default_factory=list, sa_type=pg.JSONB)
    mentor_expectations: str | None = None
    mentee_expectations: str | None = None
    cadence_days: int
    meeting_minutes: int
    channels: list[str] = SQLField(default_factory=list, sa_type=pg.JSONB)
    boundaries: str | None = None
    confidentiality: str | None = None
    review_on: date | None = None
    mentor_signed_at: datetime | None = optional_timestamp()
    mentee_signed_at: datetime | None = optional_timestamp()
    version: int = 1
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()

    @property
    def state(self) -> AgreementState:
        signed = (self.mentor_signed_at is not None) + (self.mentee_signed_at is not None)
        return ("draft", "partially_signed", "signed")[signed]


class Goal(SessionsTable, table=True):
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'completed', 'dropped')", name="ck_goal_status"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="ck_goal_progress"),
        sa.Index("ix_goal_mentorship", "mentorship_id", "created_at"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id")
    title: str
    description: str | None = None
    success_criteria: str | None = None
    target_date: date | None = None
    status: str = "open"
    progress: int = 0
    completed_at: datetime | None = optional_timestamp()
    created_by: uuid.UUID
    created_at: datetime = timestamp()
    version: int = 1


class Milestone(SessionsTable, table=True):
    """A checkpoint on the way to a goal."""

    __table_args__ = (sa.Index("ix_milestone_goal", "goal_id", "created_at"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    goal_id: uuid.UUID = SQLField(foreign_key="goal.id")
    mentorship_id: uuid.UUID
    title: str
    due_on: date | None = None
    achieved_at: datetime | None = optional_timestamp()
    achieved_by: uuid.UUID | None = None
    created_at: datetime = timestamp()


class GoalProgress(SessionsTable, table=True):
    """One recorded step of a goal's progress: who said how far it is, and why."""

    __tablename__ = "goal_progress"
    __table_args__ = (
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name="ck_goal_progress_percent"),
        sa.Index("ix_goal_progress_goal", "goal_id", "created_at"),
        sa.Index("ix_goal_progress_author", "organization_id", "author_id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    goal_id: uuid.UUID = SQLField(foreign_key="goal.id")
    mentorship_id: uuid.UUID
    author_id: uuid.UUID
    percent: int
    note: str | None = None
    created_at: datetime = timestamp()
