"""What the health routes answer: a mentorship's health, and a program's report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from trellis_sessions.mentorships.models import Status


class ComponentPublic(BaseModel):
    name: Literal["cadence", "last_contact", "cancellations", "sentiment", "goals"]
    value: float = Field(ge=0, le=1, description="1 is healthy")
    weight: float = Field(description="Share of the score; the weights sum to 1")
    reason: str


class HealthPublic(BaseModel):
    mentorship_id: uuid.UUID
    status: Status
    score: int | None = Field(ge=0, le=100, description="None unless the mentorship is active")
    threshold: int = Field(description="The program's: below it the mentorship is at risk")
    at_risk: bool = Field(description="Judged now: score below threshold (active ones only)")
    at_risk_since: datetime | None = Field(
        description="Since when the watch has flagged it (it clears a few points above threshold)"
    )
    components: list[ComponentPublic]
    note: str | None = Field(default=None, description="Why there is no score, if there is none")
    computed_at: datetime


class Rated(BaseModel):
    n: int
    mean_rating: float | None = Field(description="1-5; None when there is none")


class Goals(BaseModel):
    total: int = Field(description="Goals not dropped")
    completed: int
    completion_rate: float | None


class Correlation(BaseModel):
    outcome: Literal["closing_rating", "health_score"]
    description: str
    rho: float | None = Field(description="Spearman's rank correlation with match_score")
    n: int = Field(description="Mentorships with both a match score and this outcome")
    note: str | None = None


class Quintile(BaseModel):
    quintile: int = Field(ge=1, le=5, description="1 holds the lowest match scores")
    score_min: float | None
    score_max: float | None
    n: int
    completion_rate: float | None = Field(description="Completed / (completed + ended early)")
    mean_rating: float | None = Field(description="Mean closing evaluation rating")
    mean_meetings: float | None = Field(description="Completed meetings per mentorship")


class MatchQuality(BaseModel):
    """Closed-loop quality: does a higher match score lead to better mentorships?"""

    correlations: list[Correlation]
    quintiles: list[Quintile]


class ReportPublic(BaseModel):
    program_id: uuid.UUID
    mentorships: dict[str, int] = Field(description="Count by status, and the total")
    at_risk: int = Field(description="Active mentorships the health watch has flagged")
    meetings_per_mentorship: float | None = Field(description="Mean completed meetings")
    goals: Goals
    feedback: Rated = Field(description="Shared and admin-visible feedback (private is left out)")
    closing_evaluations: Rated
    checkins: Rated
    match_quality: MatchQuality
    generated_at: datetime
