"""Matching runs: a whole cohort matched at once, optimally or stably, with the evidence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_matching.models import MatchingTable, _ts

Mode = Literal["optimal", "stable"]
RunStatus = Literal["queued", "running", "completed", "failed"]


class Run(MatchingTable, table=True):
    __table_args__ = (sa.Index("ix_run_program", "organization_id", "program_id", "created_at"),)

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID
    mode: str
    dry_run: bool
    status: str = "queued"
    progress: float = 0.0
    results: dict = SQLField(default_factory=dict, sa_type=pg.JSONB)
    error: str | None = None
    created_at: datetime = _ts()
    started_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = "optimal"
    dry_run: bool = False


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program_id: uuid.UUID
    mode: Mode
    dry_run: bool
    status: RunStatus
    progress: float
    results: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
