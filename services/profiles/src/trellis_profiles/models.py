"""The base of every table profiles owns, and the value types its subdomains share."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class ProfilesTable(SQLModel, registry=registry()):
    """Base of the tables profiles owns (its own metadata, apart from other services')."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_field(**kwargs) -> datetime:
    """A timezone-aware timestamp column defaulting to now."""
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)
