"""Events published by the profiles service.

Person events carry the attributes matching scores on, and no more personal data than the
consumers need: demographic preferences travel only when the person opted in to using them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trellis_shared.events import EventContract, event


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Skill(_Part):
    name: str
    level: Literal["beginner", "intermediate", "advanced", "expert"]


class AvailabilitySlot(_Part):
    """A weekly slot in the person's own time zone; `end` may be 24:00 (as "24:00")."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: str = Field(description="HH:MM, local time")
    end: str = Field(description="HH:MM, local time; 24:00 allowed")


class Goal(_Part):
    category: str
    description: str


class MatchingWeights(_Part):
    skills: float = 1.0
    goals: float = 1.0
    availability: float = 1.0
    language: float = 1.0
    time_zone: float = 1.0
    seniority: float = 1.0
    industry: float = 1.0
    preferences: float = 1.0
    style: float = 1.0


class MatchingConstraints(_Part):
    shared_language_required: bool = True
    max_time_zone_difference_hours: float | None = None
    exclude_reporting_line: bool = True
    min_seniority_gap: int = 0


class MatchingSettings(_Part):
    weights: MatchingWeights = MatchingWeights()
    constraints: MatchingConstraints = MatchingConstraints()
    default_mentor_capacity: int = 1
    max_mentor_capacity: int = 5
    approval: Literal["two_sided", "mentor_only"] = Field(
        default="two_sided", description="Who must accept a proposal: both sides, or the mentor"
    )
    proposal_ttl_days: int = Field(
        default=14, ge=1, le=90, description="Days a proposal stays open before it expires"
    )


@event("trellis.profiles.organization.created.v1", subject="organization_id")
class OrganizationCreated(EventContract):
    organization_id: uuid.UUID
    name: str
    created_at: datetime


class _ProgramSnapshot(EventContract):
    program_id: uuid.UUID
    name: str
    kind: Literal["one_to_one", "group"]
    cohort_starts_on: date | None = None
    cohort_ends_on: date | None = None
    enrollment_opens_on: date | None = None
    enrollment_closes_on: date | None = None
    meeting_cadence_days: int
    meeting_minutes: int
    health_threshold: int = Field(
        default=50,
        description="A mentorship whose health score (0-100) falls below this is at risk",
    )
    matching: MatchingSettings
    version: int


@event("trellis.profiles.program.created.v1", subject="program_id")
class ProgramCreated(_ProgramSnapshot):
    """A program was set up; the data is the whole program."""


@event("trellis.profiles.program.updated.v1", subject="program_id")
class ProgramUpdated(_ProgramSnapshot):
    """A program changed; the data is the whole program after the change."""


class _PersonSnapshot(EventContract):
    person_id: uuid.UUID
    full_name: str
    email: str
    time_zone: str
    locale: str
    headline: str | None = None
    languages: list[str] = []
    skills: list[Skill] = []
    interests: list[str] = []
    seniority_level: int | None = None
    industry: str | None = None
    function: str | None = None
    manager_id: uuid.UUID | None = None
    learning_style: str | None = None
    mentoring_style: str | None = None
    communication: list[str] = []
    availability: list[AvailabilitySlot] = []
    matching_preferences: dict[str, str] = Field(
        default_factory=dict, description="Opt-in demographic preferences; empty unless opted in"
    )
    version: int = 1


@event("trellis.profiles.person.registered.v1", subject="person_id")
class PersonRegistered(_PersonSnapshot):
    """A person joined an organization's directory; the data is their profile."""

    registered_at: datetime


@event("trellis.profiles.person.updated.v1", subject="person_id")
class PersonUpdated(_PersonSnapshot):
    """A person's profile changed; the data is the whole profile after the change."""

    updated_at: datetime


@event("trellis.profiles.person.erased.v1", subject="person_id")
class PersonErased(EventContract):
    """A person's data was erased; every service erases or anonymizes what it holds of them."""

    person_id: uuid.UUID
    erased_at: datetime


class _EnrollmentSnapshot(EventContract):
    enrollment_id: uuid.UUID
    program_id: uuid.UUID
    person_id: uuid.UUID
    role: Literal["mentor", "mentee"]
    capacity: int | None = None
    goals: list[Goal] = []
    topics: list[str] = []
    status: Literal["active", "withdrawn"] = "active"
    version: int = 1


@event("trellis.profiles.enrollment.created.v1", subject="enrollment_id")
class EnrollmentCreated(_EnrollmentSnapshot):
    """A person joined a program as mentor or mentee."""


@event("trellis.profiles.enrollment.updated.v1", subject="enrollment_id")
class EnrollmentUpdated(_EnrollmentSnapshot):
    """An enrollment changed (capacity, goals, topics)."""


@event("trellis.profiles.enrollment.withdrawn.v1", subject="enrollment_id")
class EnrollmentWithdrawn(EventContract):
    enrollment_id: uuid.UUID
    program_id: uuid.UUID
    person_id: uuid.UUID
    role: Literal["mentor", "mentee"]
    withdrawn_at: datetime


@event("trellis.profiles.connection.created.v1", subject="connection_id")
class ConnectionCreated(EventContract):
    connection_id: uuid.UUID
    person_a_id: uuid.UUID
    person_b_id: uuid.UUID
    origin: Literal["mentorship", "introduction"]
    created_at: datetime


class _Introduction(EventContract):
    introduction_id: uuid.UUID
    introducer_id: uuid.UUID
    from_person_id: uuid.UUID
    to_person_id: uuid.UUID


@event("trellis.profiles.introduction.requested.v1", subject="introduction_id")
class IntroductionRequested(_Introduction):
    note: str | None = None
    requested_at: datetime


@event("trellis.profiles.introduction.accepted.v1", subject="introduction_id")
class IntroductionAccepted(_Introduction):
    accepted_at: datetime


@event("trellis.profiles.introduction.declined.v1", subject="introduction_id")
class IntroductionDeclined(_Introduction):
    declined_at: datetime


@event("trellis.profiles.achievement.shared.v1", subject="achievement_id")
class AchievementShared(EventContract):
    """A person shares an achievement; partners may post it to their networks."""

    achievement_id: uuid.UUID
    person_id: uuid.UUID
    kind: Literal["milestone", "certificate", "goal", "other"]
    title: str
    description: str | None = None
    url: str | None = None
    achieved_on: date
