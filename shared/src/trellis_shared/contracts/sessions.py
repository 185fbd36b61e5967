"""Events published by the sessions service.

Every event names both participants, so a consumer (notifications, a partner) can address the
right people without asking sessions. Free text people wrote (notes, comments, blockers) never
travels in events: it stays in sessions, behind its access rules.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from trellis_shared.events import EventContract, event

Side = Literal["mentor", "mentee"]
Actor = Literal["mentor", "mentee", "admin", "system"]


class _Mentorship(EventContract):
    mentorship_id: uuid.UUID
    program_id: uuid.UUID
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID


@event("trellis.sessions.mentorship.started.v1", subject="mentorship_id")
class MentorshipStarted(_Mentorship):
    """An accepted match became a mentorship, with the plan the program suggests."""

    match_id: uuid.UUID
    match_score: float | None = None
    cadence_days: int
    meeting_minutes: int
    started_at: datetime


@event("trellis.sessions.mentorship.paused.v1", subject="mentorship_id")
class MentorshipPaused(_Mentorship):
    reason: str
    resume_on: date | None = None
    paused_by: Actor
    paused_at: datetime


@event("trellis.sessions.mentorship.resumed.v1", subject="mentorship_id")
class MentorshipResumed(_Mentorship):
    resumed_by: Actor
    resumed_at: datetime


@event("trellis.sessions.mentorship.completed.v1", subject="mentorship_id")
class MentorshipCompleted(_Mentorship):
    """The mentorship reached its end as planned; closing evaluations are being collected."""

    completed_by: Actor
    completed_at: datetime


@event("trellis.sessions.mentorship.ended.v1", subject="mentorship_id")
class MentorshipEnded(_Mentorship):
    """The mentorship stopped early (a participant left, was erased, or asked to end it)."""

    reason: str
    ended_by: Actor
    ended_at: datetime


@event("trellis.sessions.mentorship.at_risk.v1", subject="mentorship_id")
class MentorshipAtRisk(_Mentorship):
    """The mentorship's health fell below the program's threshold: time for a nudge."""

    score: int = Field(ge=0, le=100)
    threshold: int
    reasons: list[str] = []
    detected_at: datetime


@event("trellis.sessions.agreement.signed.v1", subject="mentorship_id")
class AgreementSigned(_Mentorship):
    """One side signed the current version of the agreement; `complete` once both have."""

    agreement_version: int
    signed_by: Side
    complete: bool
    signed_at: datetime


class _Meeting(_Mentorship):
    meeting_id: uuid.UUID
    series_id: uuid.UUID | None = None
    starts_at: datetime = Field(description="UTC")
    ends_at: datetime = Field(description="UTC")
    time_zone: str = Field(description="The IANA zone the meeting was planned in")
    mode: Literal["video", "in_person", "phone"]
    location: str | None = Field(default=None, description="A video link or a place")
    sequence: int = Field(default=0, description="iCalendar SEQUENCE: bumps on every change")


@event("trellis.sessions.meeting.scheduled.v1", subject="meeting_id")
class MeetingScheduled(_Meeting):
    scheduled_by: Actor
    scheduled_at: datetime


@event("trellis.sessions.meeting.rescheduled.v1", subject="meeting_id")
class MeetingRescheduled(_Meeting):
    previous_starts_at: datetime
    rescheduled_by: Actor
    rescheduled_at: datetime


@event("trellis.sessions.meeting.cancelled.v1", subject="meeting_id")
class MeetingCancelled(_Meeting):
    reason: str | None = None
    cancelled_by: Actor
    cancelled_at: datetime


@event("trellis.sessions.meeting.completed.v1", subject="meeting_id")
class MeetingCompleted(_Meeting):
    attended: list[uuid.UUID] = Field(default=[], description="Who was there")
    completed_at: datetime


@event("trellis.sessions.goal.completed.v1", subject="goal_id")
class GoalCompleted(_Mentorship):
    goal_id: uuid.UUID
    title: str
    completed_by: Actor
    completed_at: datetime


@event("trellis.sessions.milestone.achieved.v1", subject="milestone_id")
class MilestoneAchieved(_Mentorship):
    milestone_id: uuid.UUID
    goal_id: uuid.UUID
    title: str
    achieved_by: Actor
    achieved_at: datetime


@event("trellis.sessions.checkin.submitted.v1", subject="checkin_id")
class CheckinSubmitted(_Mentorship):
    checkin_id: uuid.UUID
    author_id: uuid.UUID
    side: Side
    rating: int = Field(ge=1, le=5)
    has_blockers: bool
    submitted_at: datetime


@event("trellis.sessions.feedback.submitted.v1", subject="feedback_id")
class FeedbackSubmitted(_Mentorship):
    feedback_id: uuid.UUID
    meeting_id: uuid.UUID | None = None
    author_id: uuid.UUID
    side: Side
    visibility: Literal["shared", "private", "program_admin"]
    rating: int = Field(ge=1, le=5)
    submitted_at: datetime
