"""Events published by the matching service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from trellis_shared.events import EventContract, event


class FactorExplanation(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    factor: str
    value: float
    weight: float
    reasons: list[str] = []


class _Proposal(EventContract):
    match_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID


@event("trellis.matching.match.proposed.v1", subject="match_id")
class MatchProposed(_Proposal):
    """A mentor and a mentee are proposed to each other, with why."""

    score: float
    explanation: list[FactorExplanation] = []
    origin: Literal["run", "request", "manual"]
    run_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    proposed_at: datetime


@event("trellis.matching.match.accepted.v1", subject="match_id")
class MatchAccepted(_Proposal):
    """Both sides accepted a proposal: a mentorship starts and the two are connected."""

    score: float | None = None  # the pair's match score, so outcomes can be related to it later
    accepted_at: datetime


@event("trellis.matching.match.declined.v1", subject="match_id")
class MatchDeclined(_Proposal):
    """A side declined; the pair is not proposed again."""

    declined_by: Literal["mentor", "mentee", "admin"]
    reason: str | None = None
    declined_at: datetime


@event("trellis.matching.match.expired.v1", subject="match_id")
class MatchExpired(_Proposal):
    """Nobody decided in time; the mentor's slot is free again."""

    expired_at: datetime


@event("trellis.matching.matching_run.completed.v1", subject="run_id")
class MatchingRunCompleted(EventContract):
    run_id: uuid.UUID
    program_id: uuid.UUID
    mode: Literal["optimal", "stable"]
    dry_run: bool
    matched: int
    unmatched: int
    total_score: float
    completed_at: datetime
