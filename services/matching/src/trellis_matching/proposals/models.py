"""Proposals: a mentor and a mentee put to each other, and what each side decided."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_matching.models import MatchingTable, _ts

ProposalStatus = Literal["proposed", "accepted", "declined", "expired", "withdrawn"]
Origin = Literal["run", "request", "manual"]


class Proposal(MatchingTable, table=True):
    __table_args__ = (
        # At most one open proposal per pair and program: re-running a cohort never double-proposes.
        sa.Index(
            "uq_proposal_open_pair",
            "program_id",
            "mentee_id",
            "mentor_id",
            unique=True,
            postgresql_where=sa.text("status = 'proposed'"),
        ),
        sa.Index("ix_proposal_mentor", "organization_id", "mentor_id", "status"),
        sa.Index("ix_proposal_mentee", "organization_id", "mentee_id", "status"),
        sa.Index(
            "ix_proposal_expiry", "expires_at", postgresql_where=sa.text("status = 'proposed'")
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    program_id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    mentor_enrollment_id: uuid.UUID
    mentee_enrollment_id: uuid.UUID
    score: float
    explanation: list[dict] = SQLField(default_factory=list, sa_type=pg.JSONB)
    origin: str
    run_id: uuid.UUID | None = None
    status: str = "proposed"
    mentee_accepted_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))
    mentor_accepted_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))
    declined_by: str | None = None
    decline_reason: str | None = None
    expires_at: datetime = SQLField(sa_type=sa.DateTime(timezone=True))
    decided_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = _ts()
    version: int = 1


class ManualProposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee: uuid.UUID = Field(description="The mentee's person id")
    mentor: uuid.UUID = Field(description="The mentor's person id")


class MentorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentor: uuid.UUID = Field(description="The mentor's person id")
    mentee: uuid.UUID | None = Field(default=None, description="Defaults to the caller")


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ProposalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program_id: uuid.UUID
    mentee_id: uuid.UUID
    mentor_id: uuid.UUID
    score: float
    explanation: list[dict]
    origin: Origin
    run_id: uuid.UUID | None
    status: ProposalStatus
    mentee_accepted_at: datetime | None
    mentor_accepted_at: datetime | None
    declined_by: str | None
    decline_reason: str | None
    expires_at: datetime
    decided_at: datetime | None
    created_at: datetime


class ProposalsPublic(BaseModel):
    data: list[ProposalPublic]
    next_cursor: str | None = None
