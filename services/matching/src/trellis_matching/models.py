"""Matching's tables: its own read model of programs, people and enrollments (built from profiles
events, eventually consistent), and what it owns: proposals and runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class MatchingTable(SQLModel, registry=registry()):
    """Base of the tables matching owns (its own metadata, apart from other services')."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=_utcnow, sa_type=sa.DateTime(timezone=True), **kwargs)


class ProgramView(MatchingTable, table=True):
    """A program's matching settings, as profiles last announced them."""

    __tablename__ = "program_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    name: str
    settings: dict = Field(default_factory=dict, sa_type=pg.JSONB)
    version: int
    updated_at: datetime = _ts()


class PersonView(MatchingTable, table=True):
    """The attributes matching scores on, as profiles last announced them."""

    __tablename__ = "person_view"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    full_name: str
    profile: dict = Field(default_factory=dict, sa_type=pg.JSONB)
    version: int
    updated_at: datetime = _ts()


class EnrollmentView(MatchingTable, table=True):
    __tablename__ = "enrollment_view"
    __table_args__ = (sa.Index("ix_enrollment_view_program_role", "program_id", "role", "status"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID
    person_id: uuid.UUID = Field(index=True)
    role: str
    capacity: int | None = None
    goals: list[dict] = Field(default_factory=list, sa_type=pg.JSONB)
    topics: list[str] = Field(default_factory=list, sa_type=pg.JSONB)
    status: str = "active"
    version: int = 1
    updated_at: datetime = _ts()
