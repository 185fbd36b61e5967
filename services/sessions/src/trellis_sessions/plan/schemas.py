"""The plan's API models: what clients send and what they read back."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from trellis_sessions.models import utcnow
from trellis_sessions.plan.models import AgreementState, Channel, GoalStatus

# Dates come from people in every zone. "Today" is taken where the day ends last (UTC-12), so
# nobody's own today is refused as past, whatever zone they are in.
_LAST_ZONE = timedelta(hours=12)


def earliest_today() -> date:
    return (utcnow() - _LAST_ZONE).date()


def _not_past(value: date | None) -> date | None:
    if value is not None and value < earliest_today():
        raise ValueError("must not be in the past")
    return value


def _future(value: date | None) -> date | None:
    if value is not None and value <= earliest_today():
        raise ValueError("must be a future date")
    return value


def _blank_is_none(value: str | None) -> str | None:
    return value or None


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
NotPast = Annotated[date | None, AfterValidator(_not_past)]


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def text(limit: int) -> type:
    """Optional free text up to `limit` characters; blank counts as none."""
    return Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=limit),
        AfterValidator(_blank_is_none),
    ]


Text4000 = text(4000)
Text2000 = text(2000)
Text1000 = text(1000)


# --- agreement ---------------------------------------------------------------------------------


class AgreementWrite(BaseModel):
    """The whole agreement (PUT replaces it). Cadence and length default to the mentorship's."""

    model_config = ConfigDict(extra="forbid")

    goals: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    ] = Field(default=[], max_length=10, description="What the mentee wants to reach (≤ 10)")
    mentor_expectations: Text4000 = None
    mentee_expectations: Text4000 = None
    cadence_days: int | None = Field(default=None, ge=1, le=90, description="Days between meetings")
    meeting_minutes: int | None = Field(default=None, ge=15, le=240)
    channels: Annotated[list[Channel], AfterValidator(_distinct)] = Field(
        default=[], max_length=10, description="How they keep in touch between meetings"
    )
    boundaries: Text4000 = None
    confidentiality: Text4000 = None
    review_on: Annotated[date | None, AfterValidator(_future)] = Field(
        default=None, description="When the two look at the agreement again (a future date)"
    )


class AgreementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    mentorship_id: uuid.UUID
    goals: list[str]
    mentor_expectations: str | None
    mentee_expectations: str | None
    cadence_days: int
    meeting_minutes: int
    channels: list[Channel]
    boundaries: str | None
    confidentiality: str | None
    review_on: date | None
    state: AgreementState
    mentor_signed_at: datetime | None
    mentee_signed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class Signature(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, description="The agreement version the signer read")


# --- goals and milestones ----------------------------------------------------------------------


class GoalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Text4000 = None
    success_criteria: Text1000 = Field(
        default=None, description="How both will know the goal is reached (measurable)"
    )
    target_date: NotPast = None


class GoalUpdate(BaseModel):
    """The fields to change (send If-Match). A completed goal keeps its status."""

    model_config = ConfigDict(extra="forbid")

    # Defaults are not validated: an absent title is left alone, an explicit null is refused.
    title: Title = None  # type: ignore[assignment]
    description: Text4000 = None
    success_criteria: Text1000 = None
    target_date: NotPast = None
    status: Literal["open", "dropped"] = None  # type: ignore[assignment]


class ProgressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(ge=0, le=100, description="How far the goal is; 100 completes it")
    note: Text2000 = None


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    due_on: NotPast = None


class MilestonePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    goal_id: uuid.UUID
    mentorship_id: uuid.UUID
    title: str
    due_on: date | None
    achieved_at: datetime | None
    achieved_by: uuid.UUID | None
    created_at: datetime


class ProgressPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    goal_id: uuid.UUID
    author_id: uuid.UUID
    percent: int
    note: str | None
    created_at: datetime


class GoalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mentorship_id: uuid.UUID
    title: str
    description: str | None
    success_criteria: str | None
    target_date: date | None
    status: GoalStatus
    progress: int
    completed_at: datetime | None
    created_by: uuid.UUID
    created_at: datetime
    version: int
    milestones: list[MilestonePublic] = []
    history: list[ProgressPublic] = Field(default=[], description="Progress recorded, oldest first")
