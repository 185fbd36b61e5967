"""Check-ins (each side's periodic pulse) and feedback (rated, with visibility), as tables and as
the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Field as SQLField

from trellis_sessions.mentorships.models import Side
from trellis_sessions.models import SessionsTable, timestamp
from trellis_sessions.plan.schemas import Text2000, Text4000

Visibility = Literal["shared", "private", "program_admin"]


class Checkin(SessionsTable, table=True):
    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_checkin_rating"),
        sa.Index("ix_checkin_mentorship", "mentorship_id", "created_at"),
        sa.Index("ix_checkin_author", "organization_id", "author_id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id")
    author_id: uuid.UUID
    side: str
    rating: int
    blockers: str | None = None
    note: str | None = None
    created_at: datetime = timestamp()


class Feedback(SessionsTable, table=True):
    __table_args__ = (
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        sa.CheckConstraint(
            "visibility IN ('shared', 'private', 'program_admin')", name="ck_feedback_visibility"
        ),
        # One feedback per author and meeting; feedback on the whole mentorship (no meeting) is
        # not limited, since NULLs never collide in a unique constraint.
        sa.UniqueConstraint("meeting_id", "author_id", name="uq_feedback_meeting_author"),
        sa.Index("ix_feedback_mentorship", "mentorship_id", "created_at"),
        sa.Index("ix_feedback_author", "organization_id", "author_id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    mentorship_id: uuid.UUID = SQLField(foreign_key="mentorship.id")
    # The meetings area owns that table, written in a parallel migration branch: no foreign key.
    meeting_id: uuid.UUID | None = None
    author_id: uuid.UUID
    side: str
    rating: int
    comments: str | None = None
    visibility: str
    created_at: datetime = timestamp()


# --- API ---------------------------------------------------------------------------------------


class CheckinCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5, description="How is it going, 1 (badly) to 5 (very well)")
    blockers: Text2000 = Field(default=None, description="What is in the way, if anything")
    note: Text2000 = None


class CheckinPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentorship_id: uuid.UUID
    author_id: uuid.UUID
    side: Side
    rating: int
    blockers: str | None
    note: str | None
    withheld: bool = Field(
        default=False, description="The other side's check-in: its text is theirs, not shown"
    )
    created_at: datetime


class CheckinsPublic(BaseModel):
    data: list[CheckinPublic]
    next_cursor: str | None = None


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_id: uuid.UUID | None = Field(
        default=None, description="A completed meeting of this mentorship; none for the whole"
    )
    rating: int = Field(ge=1, le=5, description="How useful it was, 1 to 5")
    comments: Text4000 = Field(default=None, description="Specific, so that it can be acted on")
    visibility: Visibility = Field(
        description="shared: both participants; program_admin: you and the organization's admins; "
        "private: you alone"
    )


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentorship_id: uuid.UUID
    meeting_id: uuid.UUID | None
    author_id: uuid.UUID
    side: Side
    rating: int
    comments: str | None
    visibility: Visibility
    created_at: datetime


class FeedbacksPublic(BaseModel):
    data: list[FeedbackPublic]
    next_cursor: str | None = None
