"""The network: connections, introductions and achievements, as tables and as the API shows them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Field as SQLField

from trellis_profiles.models import ProfilesTable, timestamp_field
from trellis_profiles.people.models import Skill

Origin = Literal["mentorship", "introduction"]
IntroductionStatus = Literal["open", "accepted", "declined"]
AchievementKind = Literal["milestone", "certificate", "goal", "other"]


def _person_fk() -> dict:
    # Erasing a person removes every edge, introduction and achievement that names them.
    return {"sa_column_args": [sa.ForeignKey("person.id", ondelete="CASCADE")]}


class Connection(ProfilesTable, table=True):
    """Two people who know each other; the pair is stored once, smaller id first."""

    __table_args__ = (
        sa.UniqueConstraint(
            "organization_id", "person_a_id", "person_b_id", name="uq_connection_pair"
        ),
        sa.CheckConstraint("person_a_id < person_b_id", name="ck_connection_canonical_order"),
        sa.CheckConstraint("origin IN ('mentorship', 'introduction')", name="ck_connection_origin"),
        # Person-leading indexes: ids are unique across tenants, and erasure cascades by person.
        sa.Index("ix_connection_person_a", "person_a_id"),
        sa.Index("ix_connection_person_b", "person_b_id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_a_id: uuid.UUID = SQLField(**_person_fk())
    person_b_id: uuid.UUID = SQLField(**_person_fk())
    origin: str
    source_id: uuid.UUID = SQLField(description="The match or introduction that connected them")
    created_at: datetime = timestamp_field()


class Introduction(ProfilesTable, table=True):
    """A person connected to both sides offers to introduce `from` to `to`; `to` decides."""

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'declined')", name="ck_introduction_status"
        ),
        sa.CheckConstraint("from_person_id <> to_person_id", name="ck_introduction_two_people"),
        # One open introduction per pair, whichever way round it was asked.
        sa.Index(
            "uq_introduction_open_pair",
            "organization_id",
            sa.text("least(from_person_id, to_person_id)"),
            sa.text("greatest(from_person_id, to_person_id)"),
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_introduction_to", "to_person_id", "created_at", "id"),
        sa.Index("ix_introduction_from", "from_person_id", "created_at", "id"),
        sa.Index("ix_introduction_introducer", "introducer_id", "created_at", "id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    introducer_id: uuid.UUID = SQLField(**_person_fk())
    from_person_id: uuid.UUID = SQLField(**_person_fk())
    to_person_id: uuid.UUID = SQLField(**_person_fk())
    note: str | None = None
    status: str = "open"
    created_at: datetime = timestamp_field()
    decided_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))


class Achievement(ProfilesTable, table=True):
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('milestone', 'certificate', 'goal', 'other')", name="ck_achievement_kind"
        ),
        sa.Index("ix_achievement_person", "person_id", "created_at", "id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    person_id: uuid.UUID = SQLField(**_person_fk())
    kind: str
    title: str
    description: str | None = None
    url: str | None = None
    achieved_on: date
    created_at: datetime = timestamp_field()


class PersonRef(BaseModel):
    """A person named in the network: their id and name, nothing private."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str


class ConnectedPerson(PersonRef):
    headline: str | None


class ConnectionPublic(BaseModel):
    id: uuid.UUID
    person: ConnectedPerson = Field(description="The other side of the connection")
    origin: Origin
    source_id: uuid.UUID
    created_at: datetime


class ConnectionsPublic(BaseModel):
    data: list[ConnectionPublic]
    next_cursor: str | None = None


class NetworkPerson(BaseModel):
    """Someone in the caller's network, and how to reach them."""

    id: uuid.UUID
    full_name: str
    headline: str | None
    skills: list[Skill] = Field(description="The skills asked for (all of them when none was)")
    distance: int = Field(description="Connections between the caller and this person")
    introduced_by: PersonRef | None = Field(
        description="Who can introduce the caller (the first hop); none for a direct connection"
    )
    path: list[PersonRef] = Field(description="A shortest path, from the caller to this person")


class NetworkPublic(BaseModel):
    data: list[NetworkPerson]
    next_cursor: str | None = None


class IntroductionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_person_id: uuid.UUID = Field(description="Who is introduced")
    to_person_id: uuid.UUID = Field(description="To whom; they accept or decline")
    note: str | None = Field(default=None, max_length=1000)


class IntroductionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    introducer_id: uuid.UUID
    from_person_id: uuid.UUID
    to_person_id: uuid.UUID
    note: str | None
    status: IntroductionStatus
    created_at: datetime
    decided_at: datetime | None


class IntroductionsPublic(BaseModel):
    data: list[IntroductionPublic]
    next_cursor: str | None = None


class AchievementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AchievementKind
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(default=None, max_length=2000, description="An https link")
    achieved_on: date = Field(description="Not in the future (in the person's time zone)")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        try:
            parts = urlsplit(value)
        except ValueError as exc:
            raise ValueError("not a URL") from exc
        # Partners post this link publicly: plain http or other schemes are refused.
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an https URL")
        return value


class AchievementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    person_id: uuid.UUID
    kind: AchievementKind
    title: str
    description: str | None
    url: str | None
    achieved_on: date
    created_at: datetime


class AchievementsPublic(BaseModel):
    data: list[AchievementPublic]
    next_cursor: str | None = None
