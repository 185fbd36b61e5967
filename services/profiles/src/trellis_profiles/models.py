"""Profiles tables and API models."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from pydantic import ConfigDict, field_validator
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class ProfilesTable(SQLModel, registry=registry()):
    """Base of the tables profiles owns (its own metadata, apart from other services')."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PersonBase(SQLModel):
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320)
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA time zone, e.g. Europe/Paris"
    )
    locale: str = Field(default="en", max_length=35, description="BCP 47 language tag, e.g. pt-BR")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL_RE.match(value):
            raise ValueError("not an email address")
        return value.lower()

    @field_validator("full_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError("not an IANA time zone") from exc
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if not _LOCALE_RE.match(value):
            raise ValueError("not a BCP 47 language tag")
        return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


class PersonCreate(PersonBase):
    model_config = ConfigDict(extra="forbid")


class Person(ProfilesTable, table=True):
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "email", name="uq_person_organization_email"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    full_name: str
    email: str
    time_zone: str
    locale: str
    version: int = 1
    created_at: datetime = Field(default_factory=_utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=_utcnow, sa_type=sa.DateTime(timezone=True))


class PersonPublic(PersonBase):
    id: uuid.UUID
    organization_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime
