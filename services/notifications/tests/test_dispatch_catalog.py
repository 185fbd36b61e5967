"""The catalog's less travelled rows, end to end: the event goes through Kafka, both sides of the
pair get the message in their own language, leading where it says (the agreement to sign, the
closing evaluation to fill in), in the inbox and queued by email, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trellis_infra.pytest_plugin import eventually
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import sessions as s

NOW = datetime.now(UTC)


def _meeting_completed(pair: dict[str, Any]) -> s.MeetingCompleted:
    starts = NOW - timedelta(hours=1)
    return s.MeetingCompleted(
        **pair,
        meeting_id=uuid.uuid4(),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        time_zone="UTC",
        mode="video",
        attended=[pair["mentor_id"], pair["mentee_id"]],
        completed_at=NOW,
    )


# template, the event from the pair's ids, the link's path after the mentorship, the mentor's
# (English) and the mentee's (Spanish) titles, and words each body must carry.
CASES = {
    "feedback_request": (
        "progress",
        _meeting_completed,
        "/feedback",
        "How was your meeting with Ana García?",
        "¿Qué tal fue tu reunión con Maya Mentor?",
        ("A rating and a sentence of feedback", "Una valoración y una frase"),
    ),
    "mentorship_completed": (
        "mentorship",
        lambda pair: s.MentorshipCompleted(**pair, completed_by="mentor", completed_at=NOW),
        "/evaluations",
        "Congratulations on completing your mentorship with Ana García",
        "Felicidades por completar tu mentoría con Maya Mentor",
        ("the closing evaluation (http", "la evaluación de cierre (http"),
    ),
    "mentorship_ended": (
        "mentorship",
        lambda pair: s.MentorshipEnded(
            **pair, reason="changed teams", ended_by="mentee", ended_at=NOW
        ),
        "/evaluations",
        "Your mentorship with Ana García has ended",
        "Tu mentoría con Maya Mentor terminó",
        ("ended early (changed teams)", "breve evaluación de cierre (http"),
    ),
    "milestone_achieved": (
        "progress",
        lambda pair: s.MilestoneAchieved(
            **pair,
            milestone_id=uuid.uuid4(),
            goal_id=uuid.uuid4(),
            title="Draft the talk",
            achieved_by="mentee",
            achieved_at=NOW,
        ),
        "",
        "Milestone reached: Draft the talk",
        "Hito alcanzado: Draft the talk",
        ('the milestone "Draft the talk"', 'el hito "Draft the talk"'),
    ),
    "match_declined": (
        "matching",
        lambda pair: m.MatchDeclined(
            match_id=uuid.uuid4(),
            program_id=pair["program_id"],
            mentor_id=pair["mentor_id"],
            mentee_id=pair["mentee_id"],
            declined_by="mentee",
            declined_at=NOW,
        ),
        None,
        "The proposed match with Ana García will not go ahead",
        "La propuesta con Maya Mentor no sigue adelante",
        ("We will keep looking", "Seguiremos buscando"),
    ),
    "mentorship_started": (
        "mentorship",
        lambda pair: s.MentorshipStarted(
            **pair, match_id=uuid.uuid4(), cadence_days=14, meeting_minutes=45, started_at=NOW
        ),
        "/agreement",
        "Your mentorship with Ana García has started",
        "Tu mentoría con Maya Mentor ha comenzado",
        ("in the agreement (http", "en el acuerdo (http"),
    ),
}


@pytest.mark.parametrize("template", list(CASES))
async def test_each_side_hears_in_their_language_with_the_right_link(world, template):
    category, make, suffix, mentor_title, mentee_title, words = CASES[template]
    org = uuid.uuid4()
    mentor = await world.person(org, name="Maya Mentor")
    mentee = await world.person(org, name="Ana García", locale="es", time_zone="Europe/Madrid")
    pair = {
        "mentorship_id": uuid.uuid4(),
        "program_id": uuid.uuid4(),
        "mentor_id": mentor,
        "mentee_id": mentee,
    }
    data = make(pair)
    await world.publish(data, org=org, source="trellis/sessions")
    link = None if suffix is None else f"/sessions/mentorships/{pair['mentorship_id']}{suffix}"

    for person, title, said in ((mentor, mentor_title, words[0]), (mentee, mentee_title, words[1])):
        inbox = await eventually(
            lambda person=person: world.inbox(org, person),
            until=lambda i: any(x["kind"] == template for x in i["data"]),
        )
        [item] = [x for x in inbox["data"] if x["kind"] == template]
        assert item["title"] == title
        assert item["category"] == category
        assert item["link"] == link
        assert said in item["body"], item["body"]
        if suffix in ("/agreement", "/evaluations"):
            # The words name the page they ask the reader to open, not only the button under them.
            assert f"{link})" in item["body"]
        [email] = [e for e in await world.emails(person) if e["template"] == template]
        assert email["context"]["path"] == link
