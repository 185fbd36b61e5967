"""People: the table, and the API models of a profile as its owner and as others see it."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_profiles.models import ProfilesTable, timestamp_field

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# BCP 47: a language subtag, then optional script / region / variant subtags.
_LANGUAGE_TAG_RE = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$"
)
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")

SkillLevel = Literal["beginner", "intermediate", "advanced", "expert"]
LearningStyle = Literal["visual", "auditory", "reading", "hands_on", "mixed"]
MentoringStyle = Literal["coaching", "directive", "sponsoring", "sounding_board", "mixed"]
Channel = Literal["video", "chat", "in_person", "phone", "email"]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _check_zone(value: str) -> str:
    if value not in _zones():
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone") from exc
    return value


def _check_language(value: str) -> str:
    if not _LANGUAGE_TAG_RE.match(value):
        raise ValueError(f"{value!r} is not a BCP 47 language tag")
    return value


class Skill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText
    level: SkillLevel = "intermediate"


class AvailabilitySlot(BaseModel):
    """A weekly slot in the person's own time zone."""

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: str = Field(description="HH:MM local time, 00:00 to 23:59")
    end: str = Field(description="HH:MM local time, after start; 24:00 ends at midnight")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _TIME_RE.match(value):
            raise ValueError("must be HH:MM between 00:00 and 24:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> AvailabilitySlot:
        if self.start == "24:00":
            raise ValueError("start must be before 24:00")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ProfileFields(BaseModel):
    """Everything a person or an org admin may set on a profile (all optional)."""

    headline: str | None = Field(default=None, max_length=200)
    bio: str | None = Field(default=None, max_length=5000)
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA time zone, e.g. Europe/Paris"
    )
    locale: str = Field(
        default="en", max_length=35, description="BCP 47 tag for messages, e.g. pt-BR"
    )
    languages: list[str] = Field(
        default_factory=list, max_length=20, description="BCP 47 tags spoken"
    )
    skills: list[Skill] = Field(default_factory=list, max_length=100)
    interests: list[ShortText] = Field(default_factory=list, max_length=50)
    seniority_level: int | None = Field(
        default=None, ge=0, le=10, description="0 = student … 10 = executive"
    )
    industry: str | None = Field(default=None, max_length=100)
    function: str | None = Field(default=None, max_length=100)
    manager_id: uuid.UUID | None = None
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="HR system id"
    )
    learning_style: LearningStyle | None = None
    mentoring_style: MentoringStyle | None = None
    communication: list[Channel] = Field(default_factory=list, max_length=5)
    availability: list[AvailabilitySlot] = Field(default_factory=list, max_length=50)
    demographics_opt_in: bool = Field(
        default=False, description="Whether the person lets matching use their stated preferences"
    )
    demographics: dict[ShortText, ShortText] = Field(default_factory=dict, max_length=10)
    matching_preferences: dict[ShortText, ShortText] = Field(default_factory=dict, max_length=10)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return _check_language(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(_check_language(tag) for tag in value))


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _clean_email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _EMAIL_RE.match(value):
        raise ValueError("not an email address")
    return value


class _Identity(BaseModel):
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320)

    _name = field_validator("full_name")(_clean_name)
    _email = field_validator("email")(_clean_email)


class PersonCreate(_Identity, ProfileFields):
    model_config = ConfigDict(extra="forbid")


class PersonUpdate(BaseModel):
    """A partial update: only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    headline: str | None = Field(default=None, max_length=200)
    bio: str | None = Field(default=None, max_length=5000)
    time_zone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)
    languages: list[str] | None = Field(default=None, max_length=20)
    skills: list[Skill] | None = Field(default=None, max_length=100)
    interests: list[ShortText] | None = Field(default=None, max_length=50)
    seniority_level: int | None = Field(default=None, ge=0, le=10)
    industry: str | None = Field(default=None, max_length=100)
    function: str | None = Field(default=None, max_length=100)
    manager_id: uuid.UUID | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    learning_style: LearningStyle | None = None
    mentoring_style: MentoringStyle | None = None
    communication: list[Channel] | None = Field(default=None, max_length=5)
    availability: list[AvailabilitySlot] | None = Field(default=None, max_length=50)
    demographics_opt_in: bool | None = None
    demographics: dict[ShortText, ShortText] | None = Field(default=None, max_length=10)
    matching_preferences: dict[ShortText, ShortText] | None = Field(default=None, max_length=10)

    _name = field_validator("full_name")(_clean_name)
    _email = field_validator("email")(_clean_email)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        return None if value is None else _check_language(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(_check_language(t) for t in value))


class Person(ProfilesTable, table=True):
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "email", name="uq_person_organization_email"),
        sa.Index(
            "uq_person_organization_external_id",
            "organization_id",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
        ),
        sa.Index("ix_person_organization_created", "organization_id", "created_at", "id"),
        sa.Index("ix_person_skill_names", "skill_names", postgresql_using="gin"),
        sa.Index("ix_person_languages", "languages", postgresql_using="gin"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    full_name: str
    email: str
    headline: str | None = None
    bio: str | None = None
    time_zone: str = "UTC"
    locale: str = "en"
    languages: list[str] = SQLField(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    skills: list[dict] = SQLField(default_factory=list, sa_type=pg.JSONB)
    # Lower-cased skill names, kept beside `skills` for indexed search.
    skill_names: list[str] = SQLField(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    interests: list[str] = SQLField(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    seniority_level: int | None = None
    industry: str | None = None
    function: str | None = None
    manager_id: uuid.UUID | None = SQLField(
        default=None, sa_column_args=[sa.ForeignKey("person.id", ondelete="SET NULL")]
    )
    external_id: str | None = None
    learning_style: str | None = None
    mentoring_style: str | None = None
    communication: list[str] = SQLField(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    availability: list[dict] = SQLField(default_factory=list, sa_type=pg.JSONB)
    demographics_opt_in: bool = False
    demographics: dict = SQLField(default_factory=dict, sa_type=pg.JSONB)
    matching_preferences: dict = SQLField(default_factory=dict, sa_type=pg.JSONB)
    version: int = 1
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class PersonPublic(BaseModel):
    """What any member of the organization sees of a person."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    full_name: str
    headline: str | None
    bio: str | None
    time_zone: str
    locale: str
    languages: list[str]
    skills: list[Skill]
    interests: list[str]
    seniority_level: int | None
    industry: str | None
    function: str | None
    learning_style: str | None
    mentoring_style: str | None
    communication: list[str]
    availability: list[AvailabilitySlot]
    version: int
    created_at: datetime
    updated_at: datetime


class PersonPrivate(PersonPublic):
    """What the person and their org admins see: everything."""

    email: str
    manager_id: uuid.UUID | None
    external_id: str | None
    demographics_opt_in: bool
    demographics: dict[str, str]
    matching_preferences: dict[str, str]


class PeoplePublic(BaseModel):
    data: list[PersonPublic | PersonPrivate]
    next_cursor: str | None = None
