"""Every message in every language we write: each English template has its Spanish twin, and
both render, with the context the service really builds, without a single undefined variable
(the environment is StrictUndefined, so a misspelt or missing name fails the render)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from importlib import resources
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import dispatch, templates
from trellis_notifications.catalog import RULES, Recipient
from trellis_notifications.directory import PersonView
from trellis_notifications.email import compose
from trellis_notifications.reminders.models import CheckinFacts, ReminderFacts
from trellis_notifications.reminders.worker import _wording
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import notifications as n
from trellis_shared.contracts import profiles as p
from trellis_shared.contracts import sessions as s

ORG, PROGRAM = uuid.uuid4(), uuid.uuid4()
MENTOR, MENTEE, ADMIN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
MENTORSHIP, MEETING = uuid.uuid4(), uuid.uuid4()
NOW = datetime(2027, 3, 8, 15, 30, tzinfo=UTC)
PAIR = {
    "mentorship_id": MENTORSHIP,
    "program_id": PROGRAM,
    "mentor_id": MENTOR,
    "mentee_id": MENTEE,
}
MEETING_FACTS = PAIR | {
    "meeting_id": MEETING,
    "starts_at": NOW + timedelta(days=2),
    "ends_at": NOW + timedelta(days=2, minutes=45),
    "time_zone": "Europe/Madrid",
    "mode": "in_person",
    "location": "Sala 3",
}
MATCH = {"match_id": uuid.uuid4(), "program_id": PROGRAM, "mentor_id": MENTOR, "mentee_id": MENTEE}
INTRO = {
    "introduction_id": uuid.uuid4(),
    "introducer_id": ADMIN,
    "from_person_id": MENTOR,
    "to_person_id": MENTEE,
}

# One event of each type the catalog maps (several where a template has branches).
EVENTS: list[Any] = [
    p.PersonRegistered(
        person_id=MENTEE,
        full_name="Ana García",
        email="ana@example.org",
        time_zone="Europe/Madrid",
        locale="es",
        registered_at=NOW,
    ),
    p.PersonErased(person_id=MENTEE, erased_at=NOW),
    p.EnrollmentCreated(
        enrollment_id=uuid.uuid4(), program_id=PROGRAM, person_id=MENTEE, role="mentee"
    ),
    p.IntroductionRequested(**INTRO, note="Hola", requested_at=NOW),
    p.IntroductionAccepted(**INTRO, accepted_at=NOW),
    p.IntroductionDeclined(**INTRO, declined_at=NOW),
    m.MatchProposed(
        **MATCH,
        score=0.82,
        explanation=[m.FactorExplanation(factor="skills", value=1, weight=1, reasons=["Python"])],
        origin="run",
        expires_at=NOW + timedelta(days=7),
        proposed_at=NOW,
    ),
    m.MatchAccepted(**MATCH, score=0.82, accepted_at=NOW),
    m.MatchDeclined(**MATCH, declined_by="mentee", reason="timing", declined_at=NOW),
    m.MatchExpired(**MATCH, expired_at=NOW),
    s.MentorshipStarted(
        **PAIR, match_id=uuid.uuid4(), cadence_days=14, meeting_minutes=45, started_at=NOW
    ),
    s.MentorshipPaused(
        **PAIR,
        reason="parental leave",
        resume_on=date(2027, 6, 1),
        paused_by="mentee",
        paused_at=NOW,
    ),
    s.MentorshipPaused(**PAIR, reason="busy", paused_by="mentor", paused_at=NOW),
    s.MentorshipResumed(**PAIR, resumed_by="mentor", resumed_at=NOW),
    s.MentorshipCompleted(**PAIR, completed_by="mentor", completed_at=NOW),
    s.MentorshipEnded(**PAIR, reason="changed teams", ended_by="mentee", ended_at=NOW),
    s.MentorshipAtRisk(
        **PAIR, score=31, threshold=50, reasons=["no meeting in 30 days"], detected_at=NOW
    ),
    s.AgreementSigned(
        **PAIR, agreement_version=2, signed_by="mentor", complete=False, signed_at=NOW
    ),
    s.AgreementSigned(
        **PAIR, agreement_version=2, signed_by="mentee", complete=True, signed_at=NOW
    ),
    s.MeetingScheduled(**MEETING_FACTS, scheduled_by="mentor", scheduled_at=NOW),
    s.MeetingRescheduled(
        **MEETING_FACTS,
        previous_starts_at=NOW + timedelta(days=1),
        rescheduled_by="mentee",
        rescheduled_at=NOW,
    ),
    s.MeetingCancelled(**MEETING_FACTS, reason="sick", cancelled_by="mentee", cancelled_at=NOW),
    s.MeetingCancelled(**MEETING_FACTS, cancelled_by="mentor", cancelled_at=NOW),
    s.MeetingCompleted(**MEETING_FACTS, attended=[MENTOR, MENTEE], completed_at=NOW),
    s.GoalCompleted(
        **PAIR,
        goal_id=uuid.uuid4(),
        title="Speak at a meetup",
        completed_by="mentee",
        completed_at=NOW,
    ),
    s.MilestoneAchieved(
        **PAIR,
        milestone_id=uuid.uuid4(),
        goal_id=uuid.uuid4(),
        title="Draft the talk",
        achieved_by="mentee",
        achieved_at=NOW,
    ),
]
REMINDER = ReminderFacts(**MEETING_FACTS, lead_minutes=60)
DISABLED = n.WebhookDisabled(
    subscription_id=uuid.uuid4(),
    url="https://partner.example.com/hooks",
    description="CRM sync",
    reason="the endpoint failed for 24 hours",
    failing_since=NOW - timedelta(days=1),
    disabled_at=NOW,
)
AT_RISK = next(e for e in EVENTS if isinstance(e, s.MentorshipAtRisk))


def _people(locale: str) -> dict[uuid.UUID, PersonView]:
    names = {MENTOR: "Maya Mentor", MENTEE: "Ana García", ADMIN: "Olga O'Brien"}
    return {
        pid: PersonView(
            id=pid,
            organization_id=ORG,
            full_name=name,
            locale=locale,
            time_zone="Europe/Madrid",
            version=1,
        )
        for pid, name in names.items()
    }


async def _context(
    template: str, data: Any, recipient: Recipient, link: str | None, locale: str
) -> dict:
    # A session that is never connected: context_for only reads the settings it carries.
    session = AsyncSession(info={"settings": NotificationsSettings()})
    return dispatch.context_for(
        session,
        data,
        recipient,
        _people(locale),
        link,
        {PROGRAM: "Women in Tech"},
        template=template,
    )


async def samples(locale: str) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) for every way a message is made: the catalog's rules, the reminders
    (on time and late), check-in prompts, the admins' at-risk note, webhook failures, digests."""
    out: list[tuple[str, dict[str, Any]]] = []
    for data in EVENTS:
        for rule in RULES[data.event_type]:
            for recipient in rule.recipients(data):
                context = await _context(rule.template, data, recipient, rule.link(data), locale)
                out.append((rule.template, context))
    pair = Recipient(MENTEE, "mentee", MENTOR)
    on_time = _wording(60, timedelta(minutes=60), timedelta(0), timedelta(minutes=2))
    late = _wording(1440, timedelta(hours=3), timedelta(hours=21), timedelta(minutes=2))
    for extra in (on_time, late):
        context = await _context(
            "meeting_reminder", REMINDER, pair, f"/sessions/meetings/{MEETING}", locale
        )
        out.append(("meeting_reminder", context | extra))
    checkin = CheckinFacts(**PAIR, cadence_days=14)
    out.append(("checkin_prompt", await _context("checkin_prompt", checkin, pair, None, locale)))
    admin = Recipient(ADMIN, "program_admin")
    names = {"mentor": "Maya Mentor", "mentee": "Ana García"}
    out.append(
        ("at_risk_admin", await _context("at_risk_admin", AT_RISK, admin, None, locale) | names)
    )
    owner = Recipient(ADMIN, "org_admin")
    out.append(
        (
            "webhook_disabled",
            await _context("webhook_disabled", DISABLED, owner, "/notifications/w", locale),
        )
    )
    items = [
        {"subject": "Goal reached: Speak at a meetup", "link": "https://t.example/x"},
        {"subject": "Milestone reached: Draft the talk", "link": None},
    ]
    for chosen in (items, items[:1]):
        out.append(
            (
                "digest",
                {
                    "recipient": {"id": str(MENTEE), "name": "Ana García", "first_name": "Ana"},
                    "items": chosen,
                    "count": len(chosen),
                    "categories": ["progress"],
                    "link": "https://t.example/notifications/inbox",
                    "program": None,
                },
            )
        )
    return out


def _names(language: str) -> set[str]:
    folder = resources.files("trellis_notifications") / "templates" / language
    return {f.name.removesuffix(".j2") for f in folder.iterdir() if not f.name.startswith("_")}


def test_every_english_template_has_a_spanish_twin():
    english = _names("en")
    assert english - _names("es") == set()
    assert templates.exists("_layout.txt", "es") and templates.exists("_layout.html", "es")


@pytest.mark.parametrize("locale", ["en", "es"])
async def test_every_template_renders_with_what_the_service_gives_it(locale):
    rendered: dict[str, list[templates.Rendered]] = {}
    for template, context in await samples(locale):
        message = templates.render(template, locale, context | {"unsubscribe_url": "https://u"})
        assert message.subject and message.text and message.html, template
        assert "{{" not in message.text + message.html, template
        assert f'<html lang="{locale}">' in message.html, template
        rendered.setdefault(template, []).append(message)
    # A new template without a sample here fails, so none escapes this test.
    assert set(rendered) == _names("en")
    if locale == "es":
        for template, messages in rendered.items():
            for message in messages:
                assert "Hi " not in message.text, template
                assert "Open in Trellis" not in message.html, template
        # Words the context carries in English are put into Spanish by the templates.
        reminder = "\n".join(r.text for r in rendered["meeting_reminder"])
        assert "empieza en 1 hora, el" in reminder and "minute" not in reminder
        assert "debía llegarte 21 horas antes (24 horas antes de la reunión)" in reminder
        assert "(en persona: Sala 3)" in rendered["meeting_scheduled"][0].text
        assert "como mentee" in rendered["enrolled"][0].subject


@pytest.mark.parametrize("locale", ["en", "es"])
async def test_the_links_the_messages_promise_are_in_them(locale):
    by_template = {t: c for t, c in await samples(locale)}
    base = NotificationsSettings().public_base_url.rstrip("/")
    for template, path in (
        ("mentorship_started", f"/sessions/mentorships/{MENTORSHIP}/agreement"),
        ("mentorship_completed", f"/sessions/mentorships/{MENTORSHIP}/evaluations"),
        ("mentorship_ended", f"/sessions/mentorships/{MENTORSHIP}/evaluations"),
    ):
        message = templates.render(template, locale, by_template[template])
        assert f'<a href="{base}{path}">' in message.html, (template, message.html)
        assert f"({base}{path})" in message.text, (template, message.text)


@pytest.mark.parametrize(
    ("locale", "shown"),
    [
        ("en", "Sun 1 Aug 2027, 09:05 CEST"),
        ("es", "dom 1 ago 2027, 09:05 CEST"),
        ("es_MX", "dom 1 ago 2027, 09:05 CEST"),
        ("fr-FR", "Sun 1 Aug 2027, 09:05 CEST"),  # no French words yet: English, like the text
    ],
)
def test_times_read_in_the_persons_language(locale, shown):
    assert dispatch.local_time(datetime(2027, 8, 1, 7, 5, tzinfo=UTC), "Europe/Madrid", locale) == (
        shown
    )
    assert dispatch.local_time(None, "Europe/Madrid", locale) is None


def _row(template: str, locale: str, context: dict[str, Any], to: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=uuid.uuid4(),
        person_id=MENTEE,
        organization_id=ORG,
        template=template,
        locale=locale,
        category="matching",
        critical=False,
        context=context,
        to_address=to,
    )


@pytest.mark.parametrize("locale", ["en", "es"])
async def test_every_email_reads_back_as_it_was_written(locale):
    """The header the sender writes itself, and the MIME parts under it, parse back (as a mail
    client would) to the rendered subject, text and HTML, one header line each, CRLF lines."""
    settings = NotificationsSettings()
    for template, context in await samples(locale):
        raw = compose.build(
            _row(template, locale, context, "ana@example.org"), settings, now=NOW, late_by_min=None
        )
        assert b"\n" not in raw.replace(b"\r\n", b""), template
        message = BytesParser(policy=policy.default).parsebytes(raw)
        rendered = templates.render(
            template, locale, context | {"unsubscribe_url": message["List-Unsubscribe"][1:-1]}
        )
        assert message["Subject"] == " ".join(rendered.subject.split()), template
        assert message["To"] == "ana@example.org" and message["From"] == settings.mail_from
        assert message["List-Unsubscribe"].startswith(f"<{settings.public_base_url}")
        assert message.get_body(preferencelist=("html",)).get_content() == rendered.html
        assert rendered.text in message.get_body(preferencelist=("plain",)).get_content()
        assert not message.defects, template


async def test_a_line_break_in_a_name_or_an_address_cannot_add_a_header():
    [(template, context)] = [(t, c) for t, c in await samples("es") if t == "welcome"]
    context["recipient"]["first_name"] = "Ana\r\nBcc: everyone@example.org"
    settings = NotificationsSettings()
    raw = compose.build(
        _row(template, "es", context, "a@example.org"), settings, now=NOW, late_by_min=None
    )
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "Te damos la bienvenida a Trellis, Ana Bcc: everyone@example.org"
    with pytest.raises(ValueError, match="line break"):
        compose.build(
            _row(template, "es", context, "a@example.org\r\nBcc: b@example.org"),
            settings,
            now=NOW,
            late_by_min=None,
        )
