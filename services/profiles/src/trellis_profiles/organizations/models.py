"""Organizations (tenants): the table and its API models."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Field as SQLField

from trellis_profiles.models import ProfilesTable, timestamp_field

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(
        default=None,
        min_length=2,
        max_length=63,
        pattern=SLUG_PATTERN,
        description="URL-friendly handle, unique across Trellis; derived from the name if absent",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class Organization(ProfilesTable, table=True):
    __table_args__ = (sa.UniqueConstraint("slug", name="uq_organization_slug"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    name: str
    slug: str
    created_at: datetime = timestamp_field()


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime
