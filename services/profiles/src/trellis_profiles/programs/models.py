"""Programs and enrollments: the tables, and the API models that validate them.

The matching settings reuse the event contract's shapes (so what is stored is what is announced)
and add the bounds and the `extra="forbid"` that a request body needs.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_profiles.models import ProfilesTable, timestamp_field
from trellis_shared.contracts import profiles as contracts

ProgramKind = Literal["one_to_one", "group"]
Role = Literal["mentor", "mentee"]
EnrollmentStatus = Literal["active", "withdrawn"]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Weight = Annotated[float, Field(ge=0, le=100)]
TimeZoneHours = Annotated[float, Field(ge=0, le=24)]
SeniorityGap = Annotated[int, Field(ge=0, le=10)]
MentorCapacity = Annotated[int, Field(ge=1, le=50)]
CadenceDays = Annotated[int, Field(ge=1, le=90)]
MeetingMinutes = Annotated[int, Field(ge=15, le=240)]
HealthThreshold = Annotated[
    int, Field(ge=0, le=100, description="Health score (0-100) below which a mentorship is at risk")
]

_FORBID = ConfigDict(extra="forbid", frozen=True)


# --- matching settings -------------------------------------------------------------------------


class MatchingWeightsIn(contracts.MatchingWeights):
    """How much each factor counts when matching; 0 switches a factor off."""

    model_config = _FORBID

    skills: Weight = 1.0
    goals: Weight = 1.0
    availability: Weight = 1.0
    language: Weight = 1.0
    time_zone: Weight = 1.0
    seniority: Weight = 1.0
    industry: Weight = 1.0
    preferences: Weight = 1.0
    style: Weight = 1.0

    @model_validator(mode="after")
    def _not_all_zero(self) -> MatchingWeightsIn:
        if not any(self.model_dump().values()):
            raise ValueError("at least one weight must be above zero")
        return self


class MatchingConstraintsIn(contracts.MatchingConstraints):
    """Hard rules: a pair breaking one is never proposed."""

    model_config = _FORBID

    shared_language_required: bool = True
    max_time_zone_difference_hours: TimeZoneHours | None = None
    exclude_reporting_line: bool = True
    min_seniority_gap: SeniorityGap = 0


class MatchingSettingsIn(contracts.MatchingSettings):
    model_config = _FORBID

    weights: MatchingWeightsIn = MatchingWeightsIn()
    constraints: MatchingConstraintsIn = MatchingConstraintsIn()
    default_mentor_capacity: MentorCapacity = 1
    max_mentor_capacity: MentorCapacity = 5

    @field_validator("max_mentor_capacity")
    @classmethod
    def _max_at_least_default(cls, value: int, info: ValidationInfo) -> int:
        default = info.data.get("default_mentor_capacity")
        if default is not None and value < default:
            raise ValueError(f"must be at least default_mentor_capacity ({default})")
        return value


class MatchingWeightsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: Weight | None = None
    goals: Weight | None = None
    availability: Weight | None = None
    language: Weight | None = None
    time_zone: Weight | None = None
    seniority: Weight | None = None
    industry: Weight | None = None
    preferences: Weight | None = None
    style: Weight | None = None


class MatchingConstraintsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shared_language_required: bool | None = None
    max_time_zone_difference_hours: TimeZoneHours | None = None
    exclude_reporting_line: bool | None = None
    min_seniority_gap: SeniorityGap | None = None


class MatchingSettingsPatch(BaseModel):
    """Only the keys sent change; the rest of the stored settings stay."""

    model_config = ConfigDict(extra="forbid")

    weights: MatchingWeightsPatch | None = None
    constraints: MatchingConstraintsPatch | None = None
    default_mentor_capacity: MentorCapacity | None = None
    max_mentor_capacity: MentorCapacity | None = None
    approval: Literal["two_sided", "mentor_only"] | None = None
    proposal_ttl_days: int | None = Field(default=None, ge=1, le=90)


# --- programs ----------------------------------------------------------------------------------


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: ProgramKind = Field(
        default="one_to_one", description='"group" is reserved: answered 422 until supported'
    )
    cohort_starts_on: date | None = None
    cohort_ends_on: date | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None
    meeting_cadence_days: CadenceDays = 14
    meeting_minutes: MeetingMinutes = 45
    health_threshold: HealthThreshold = 50
    matching: MatchingSettingsIn = MatchingSettingsIn()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("cohort_ends_on")
    @classmethod
    def _cohort_order(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info.data.get("cohort_starts_on"), "cohort_starts_on")

    @field_validator("enrollment_closes_on")
    @classmethod
    def _window_order(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info.data.get("enrollment_opens_on"), "enrollment_opens_on")


def _not_before(value: date | None, start: date | None, start_name: str) -> date | None:
    if value is not None and start is not None and value < start:
        raise ValueError(f"must not be before {start_name} ({start.isoformat()})")
    return value


class ProgramUpdate(BaseModel):
    """A partial update; the merged program is validated by the rules of ProgramCreate."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: ProgramKind | None = None
    cohort_starts_on: date | None = None
    cohort_ends_on: date | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None
    meeting_cadence_days: CadenceDays | None = None
    meeting_minutes: MeetingMinutes | None = None
    health_threshold: HealthThreshold | None = None
    matching: MatchingSettingsPatch | None = None


class Program(ProfilesTable, table=True):
    __table_args__ = (
        sa.Index("ix_program_organization_created", "organization_id", "created_at", "id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    # No foreign key to `organization`: tokens name the tenant, and a tenant need not have a row.
    organization_id: uuid.UUID
    name: str
    description: str | None = None
    kind: str = "one_to_one"
    cohort_starts_on: date | None = None
    cohort_ends_on: date | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None
    meeting_cadence_days: int = 14
    meeting_minutes: int = 45
    health_threshold: int = 50
    matching: dict[str, Any] = SQLField(default_factory=dict, sa_type=pg.JSONB)
    version: int = 1
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProgramPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str | None
    kind: ProgramKind
    cohort_starts_on: date | None
    cohort_ends_on: date | None
    enrollment_opens_on: date | None
    enrollment_closes_on: date | None
    meeting_cadence_days: int
    meeting_minutes: int
    health_threshold: int
    matching: contracts.MatchingSettings
    version: int
    created_at: datetime
    updated_at: datetime


class ProgramsPublic(BaseModel):
    data: list[ProgramPublic]
    next_cursor: str | None = None


# --- enrollments -------------------------------------------------------------------------------


class GoalIn(BaseModel):
    """Something a mentee wants to achieve."""

    model_config = ConfigDict(extra="forbid")

    category: ShortText
    description: str = Field(min_length=1, max_length=1000)


class EnrollmentCreate(BaseModel):
    """A person joining a program.

    Which fields a role may carry, and the capacity bounds, depend on the program: the service
    checks them (see `programs.service.enroll`), so a bulk import gets the same answers.
    """

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    role: Role
    capacity: int | None = Field(
        default=None,
        ge=0,
        description="Mentors only: how many mentees at once (default: the program's default)",
    )
    goals: list[GoalIn] = Field(default_factory=list, max_length=10, description="Mentees only")
    topics: list[ShortText] = Field(
        default_factory=list, max_length=30, description="Mentors only: what they can help with"
    )


class EnrollmentUpdate(BaseModel):
    """A partial update of what an active enrollment offers or seeks."""

    model_config = ConfigDict(extra="forbid")

    capacity: int | None = Field(default=None, ge=0)
    goals: list[GoalIn] | None = Field(default=None, max_length=10)
    topics: list[ShortText] | None = Field(default=None, max_length=30)


class Enrollment(ProfilesTable, table=True):
    __table_args__ = (
        sa.Index(
            "uq_enrollment_active",
            "program_id",
            "person_id",
            "role",
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.Index("ix_enrollment_program_created", "program_id", "created_at", "id"),
        sa.Index("ix_enrollment_person_created", "person_id", "created_at", "id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID = SQLField(sa_column_args=[sa.ForeignKey("program.id")])
    # Erasing a person removes their enrollments with them.
    person_id: uuid.UUID = SQLField(sa_column_args=[sa.ForeignKey("person.id", ondelete="CASCADE")])
    role: str
    capacity: int | None = None
    goals: list[dict[str, Any]] = SQLField(default_factory=list, sa_type=pg.JSONB)
    topics: list[str] = SQLField(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    status: str = "active"
    version: int = 1
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    withdrawn_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))


class EnrollmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    program_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    capacity: int | None
    goals: list[contracts.Goal]
    topics: list[str]
    status: EnrollmentStatus
    version: int
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None


class EnrollmentsPublic(BaseModel):
    data: list[EnrollmentPublic]
    next_cursor: str | None = None
