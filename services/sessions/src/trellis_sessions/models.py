"""Sessions' table base and column helpers; each area keeps its tables in its own package."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class SessionsTable(SQLModel, registry=registry()):
    """Base of the tables sessions owns (its own metadata, apart from other services')."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(**kwargs: Any) -> Any:
    """A timezone-aware timestamp column defaulting to now."""
    return Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)


def optional_timestamp() -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True))
