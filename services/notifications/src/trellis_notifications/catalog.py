"""What is sent when: each event type mapped to its recipients, template and category.

The catalog is data, read top to bottom like the table in the README: an event nobody needs to
hear about (a check-in, a feedback) has no entry, so its words stay where they were written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trellis_shared.contracts import matching as m
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s


@dataclass(frozen=True)
class Recipient:
    person_id: uuid.UUID
    role: str  # mentor, mentee, person, introducer, ...
    other_id: uuid.UUID | None = None  # the person the message is about, if any


@dataclass(frozen=True)
class Rule:
    template: str
    category: str
    recipients: Callable[[Any], list[Recipient]]
    link: Callable[[Any], str | None] = lambda data: None
    critical: bool = False


def _pair(data: Any) -> list[Recipient]:
    return [
        Recipient(data.mentor_id, "mentor", data.mentee_id),
        Recipient(data.mentee_id, "mentee", data.mentor_id),
    ]


def _the_person(data: Any) -> list[Recipient]:
    return [Recipient(data.person_id, "person")]


def _mentorship_link(data: Any) -> str:
    return f"/sessions/mentorships/{data.mentorship_id}"


def _proposal_link(data: Any) -> str:
    return f"/matching/proposals/{data.match_id}"


def _meeting_link(data: Any) -> str:
    return f"/sessions/meetings/{data.meeting_id}"


def _agreement_link(data: Any) -> str:
    return f"/sessions/mentorships/{data.mentorship_id}/agreement"


def _evaluations_link(data: Any) -> str:
    # The closing evaluations of the mentorship (a participant sends theirs with POST .../complete).
    return f"/sessions/mentorships/{data.mentorship_id}/evaluations"


def _other_signer(data: s.AgreementSigned) -> list[Recipient]:
    if data.complete:
        return _pair(data)
    # Until both have signed, only the side still to sign needs to hear about it.
    return [r for r in _pair(data) if r.role != data.signed_by]


RULES: dict[str, tuple[Rule, ...]] = {
    p.PersonRegistered.event_type: (
        Rule("welcome", "account", _the_person, lambda d: f"/profiles/people/{d.person_id}"),
    ),
    p.PersonErased.event_type: (Rule("erasure_confirmed", "account", _the_person, critical=True),),
    p.EnrollmentCreated.event_type: (
        Rule("enrolled", "account", _the_person, lambda d: f"/profiles/programs/{d.program_id}"),
    ),
    p.IntroductionRequested.event_type: (
        Rule(
            "introduction_requested",
            "network",
            lambda d: [Recipient(d.to_person_id, "introduced", d.from_person_id)],
            lambda d: f"/profiles/introductions/{d.introduction_id}",
        ),
    ),
    p.IntroductionAccepted.event_type: (
        Rule(
            "introduction_accepted",
            "network",
            lambda d: [
                Recipient(d.from_person_id, "requester", d.to_person_id),
                Recipient(d.introducer_id, "introducer", d.to_person_id),
            ],
            lambda d: f"/profiles/introductions/{d.introduction_id}",
        ),
    ),
    p.IntroductionDeclined.event_type: (
        Rule(
            "introduction_declined",
            "network",
            lambda d: [Recipient(d.from_person_id, "requester", d.to_person_id)],
        ),
    ),
    m.MatchProposed.event_type: (Rule("match_proposed", "matching", _pair, _proposal_link),),
    m.MatchAccepted.event_type: (Rule("match_accepted", "matching", _pair, _proposal_link),),
    m.MatchDeclined.event_type: (Rule("match_declined", "matching", _pair),),
    m.MatchExpired.event_type: (Rule("match_expired", "matching", _pair),),
    s.MentorshipStarted.event_type: (
        # The first thing a new pair does is agree on goals: the message leads to the agreement.
        Rule("mentorship_started", "mentorship", _pair, _agreement_link),
    ),
    s.MentorshipPaused.event_type: (
        Rule("mentorship_paused", "mentorship", _pair, _mentorship_link),
    ),
    s.MentorshipResumed.event_type: (
        Rule("mentorship_resumed", "mentorship", _pair, _mentorship_link),
    ),
    s.MentorshipCompleted.event_type: (
        Rule("mentorship_completed", "mentorship", _pair, _evaluations_link),
    ),
    s.MentorshipEnded.event_type: (
        Rule("mentorship_ended", "mentorship", _pair, _evaluations_link),
    ),
    s.MentorshipAtRisk.event_type: (
        Rule("mentorship_at_risk", "mentorship", _pair, _mentorship_link),
    ),
    s.AgreementSigned.event_type: (
        Rule(
            "agreement_signed",
            "mentorship",
            _other_signer,
            _agreement_link,
        ),
    ),
    s.MeetingScheduled.event_type: (Rule("meeting_scheduled", "meetings", _pair, _meeting_link),),
    s.MeetingRescheduled.event_type: (
        Rule("meeting_rescheduled", "meetings", _pair, _meeting_link),
    ),
    s.MeetingCancelled.event_type: (Rule("meeting_cancelled", "meetings", _pair, _meeting_link),),
    s.MeetingCompleted.event_type: (
        Rule(
            "feedback_request",
            "progress",
            _pair,
            lambda d: f"/sessions/mentorships/{d.mentorship_id}/feedback",
        ),
    ),
    s.GoalCompleted.event_type: (Rule("goal_completed", "progress", _pair, _mentorship_link),),
    s.MilestoneAchieved.event_type: (
        Rule("milestone_achieved", "progress", _pair, _mentorship_link),
    ),
}
