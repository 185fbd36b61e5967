"""The mentorship's lifecycle: started by an accepted match, paused and resumed, completed with
each side's evaluation, or ended early. Every transition is validated and announced."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_sessions import directory
from trellis_sessions.events import identity, publish
from trellis_sessions.meetings.service import cancel_upcoming
from trellis_sessions.mentorships.access import require_status, side_of
from trellis_sessions.mentorships.models import (
    Closing,
    End,
    Evaluation,
    Mentorship,
    MentorshipPublic,
    Participant,
    Pause,
)
from trellis_shared.contracts import matching as matching_contracts
from trellis_shared.contracts import sessions as contracts
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem

OPEN = ("active", "paused")


async def start_from_match(
    session: AsyncSession, tenant: uuid.UUID, match: matching_contracts.MatchAccepted
) -> Mentorship | None:
    """Start the mentorship of an accepted match; None when it exists already (a redelivery)."""
    plan = await directory.program_defaults(session, tenant, match.program_id)
    now = datetime.now(UTC)
    inserted = await session.scalar(
        insert(Mentorship.__table__)
        .values(
            id=uuid.uuid4(),
            organization_id=tenant,
            program_id=match.program_id,
            match_id=match.match_id,
            mentor_id=match.mentor_id,
            mentee_id=match.mentee_id,
            match_score=match.score,
            status="active",
            cadence_days=plan.cadence_days,
            meeting_minutes=plan.meeting_minutes,
            started_at=match.accepted_at,
            created_at=now,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["match_id"])
        .returning(Mentorship.__table__.c.id)
    )
    if inserted is None:
        return None
    mentorship = await session.get(Mentorship, inserted)
    assert mentorship is not None
    await publish(
        session,
        contracts.MentorshipStarted(
            **identity(mentorship),
            match_id=match.match_id,
            match_score=match.score,
            cadence_days=plan.cadence_days,
            meeting_minutes=plan.meeting_minutes,
            started_at=mentorship.started_at,
        ),
        tenant=tenant,
    )
    return mentorship


async def present(session: AsyncSession, mentorships: list[Mentorship]) -> list[MentorshipPublic]:
    """The mentorships as the API shows them, with each participant's name and zone."""
    if not mentorships:
        return []
    ids = [p for m in mentorships for p in (m.mentor_id, m.mentee_id)]
    known = await directory.people(session, mentorships[0].organization_id, ids)
    shown = []
    for m in mentorships:
        participants = [
            Participant(
                person_id=person_id,
                side=side,
                full_name=known[person_id].full_name if person_id in known else None,
                time_zone=known[person_id].time_zone if person_id in known else None,
            )
            for person_id, side in ((m.mentor_id, "mentor"), (m.mentee_id, "mentee"))
        ]
        public = MentorshipPublic.model_validate(m)
        shown.append(
            public.model_copy(
                update={"participants": participants, "at_risk": m.at_risk_since is not None}
            )
        )
    return shown


async def list_for(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID | None,
    program_id: uuid.UUID | None,
    status: str | None,
    at_risk: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Mentorship], str | None]:
    """Mentorships of the organization, newest first, narrowed by person, program and state."""
    query = select(Mentorship).where(Mentorship.organization_id == organization_id)
    if person_id:
        query = query.where(
            sa.or_(Mentorship.mentor_id == person_id, Mentorship.mentee_id == person_id)
        )
    if program_id:
        query = query.where(Mentorship.program_id == program_id)
    if status:
        query = query.where(Mentorship.status == status)
    if at_risk is not None:
        at_risk_since = col(Mentorship.at_risk_since)
        query = query.where(at_risk_since.is_not(None) if at_risk else at_risk_since.is_(None))
    return await keyset_page(
        session, query, Mentorship, limit=limit, cursor=cursor, newest_first=True
    )


def _changed(mentorship: Mentorship, session: AsyncSession) -> None:
    mentorship.version += 1
    session.add(mentorship)


async def pause(
    *, session: AsyncSession, mentorship: Mentorship, data: Pause, actor: str
) -> Mentorship:
    """Pause an active mentorship (health is not judged while paused)."""
    require_status(mentorship, "active", doing="pause")
    if data.resume_on is not None and data.resume_on <= datetime.now(UTC).date():
        raise Problem(
            422,
            "Invalid body.resume_on: must be a future date",
            errors=[{"field": "body.resume_on", "message": "must be a future date"}],
        )
    now = datetime.now(UTC)
    mentorship.status, mentorship.paused_at = "paused", now
    mentorship.pause_reason, mentorship.resume_on = data.reason, data.resume_on
    _changed(mentorship, session)
    await publish(
        session,
        contracts.MentorshipPaused(
            **identity(mentorship),
            reason=data.reason,
            resume_on=data.resume_on,
            paused_by=actor,
            paused_at=now,
        ),
        tenant=mentorship.organization_id,
    )
    return mentorship


async def resume(*, session: AsyncSession, mentorship: Mentorship, actor: str) -> Mentorship:
    """Take a paused mentorship up again; its cadence counts from now."""
    require_status(mentorship, "paused", doing="resume")
    now = datetime.now(UTC)
    mentorship.status, mentorship.paused_at, mentorship.resumed_at = "active", None, now
    mentorship.pause_reason, mentorship.resume_on = None, None
    _changed(mentorship, session)
    await publish(
        session,
        contracts.MentorshipResumed(**identity(mentorship), resumed_by=actor, resumed_at=now),
        tenant=mentorship.organization_id,
    )
    return mentorship


async def complete(
    *,
    session: AsyncSession,
    mentorship: Mentorship,
    author_id: uuid.UUID | None,
    closing: Closing | None,
    actor: str,
) -> Mentorship:
    """Complete the mentorship, with the caller's closing evaluation when they are a participant.

    The first participant (or an admin) completes it; the other side then adds their own
    evaluation the same way. After an early end each side may still leave one (the closing
    survey asks for it); the mentorship stays ended. Evaluating twice is a conflict.
    """
    side = side_of(mentorship, author_id)
    if side is not None and closing is None:
        raise Problem(
            422,
            "Invalid body: a participant completes the mentorship with a closing evaluation",
            errors=[{"field": "body", "message": "closing evaluation required"}],
        )
    closed = mentorship.status in ("completed", "ended")
    if not closed:
        require_status(mentorship, *OPEN, doing="complete")
    elif side is None:
        raise Problem(
            409, f"The mentorship is already {mentorship.status}", slug="mentorship-state"
        )
    if side is not None and closing is not None:
        session.add(
            Evaluation(
                organization_id=mentorship.organization_id,
                mentorship_id=mentorship.id,
                author_id=author_id,
                side=side,
                **closing.model_dump(),
            )
        )
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Problem(
                409, "You have already evaluated this mentorship", slug="already-evaluated"
            ) from exc
    if closed:
        return mentorship
    now = datetime.now(UTC)
    mentorship.status, mentorship.completed_at = "completed", now
    _changed(mentorship, session)
    await cancel_upcoming(
        session=session, mentorship=mentorship, reason="The mentorship is complete"
    )
    await publish(
        session,
        contracts.MentorshipCompleted(**identity(mentorship), completed_by=actor, completed_at=now),
        tenant=mentorship.organization_id,
    )
    return mentorship


async def end(
    *, session: AsyncSession, mentorship: Mentorship, data: End, actor: str
) -> Mentorship:
    """End the mentorship early, saying why."""
    require_status(mentorship, *OPEN, doing="end")
    now = datetime.now(UTC)
    mentorship.status, mentorship.ended_at, mentorship.end_reason = "ended", now, data.reason
    _changed(mentorship, session)
    await cancel_upcoming(session=session, mentorship=mentorship, reason="The mentorship ended")
    await publish(
        session,
        contracts.MentorshipEnded(
            **identity(mentorship), reason=data.reason, ended_by=actor, ended_at=now
        ),
        tenant=mentorship.organization_id,
    )
    return mentorship


async def evaluations(
    *, session: AsyncSession, mentorship: Mentorship, author_id: uuid.UUID | None
) -> list[Evaluation]:
    """Closing evaluations: an admin sees both; a participant sees their own."""
    query = select(Evaluation).where(Evaluation.mentorship_id == mentorship.id)
    if author_id is not None:
        query = query.where(Evaluation.author_id == author_id)
    return list((await session.exec(query.order_by(col(Evaluation.created_at)))).all())


async def end_for_erased_person(
    session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID
) -> int:
    """End every open mentorship of an erased person; the other side is told why."""
    open_ = (
        await session.exec(
            select(Mentorship)
            .where(
                Mentorship.organization_id == tenant,
                sa.or_(Mentorship.mentor_id == person_id, Mentorship.mentee_id == person_id),
                col(Mentorship.status).in_(OPEN),
            )
            .with_for_update()
        )
    ).all()
    for mentorship in open_:
        await end(
            session=session,
            mentorship=mentorship,
            data=End(reason="A participant's account was erased"),
            actor="system",
        )
    return len(open_)


async def resume_due(*, session: AsyncSession, today: date | None = None, limit: int = 500) -> int:
    """Resume the paused mentorships whose resume date has come (every tenant)."""
    today = today or datetime.now(UTC).date()
    due = (
        await session.exec(
            select(Mentorship)
            .where(Mentorship.status == "paused", col(Mentorship.resume_on) <= today)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for mentorship in due:
        await resume(session=session, mentorship=mentorship, actor="system")
    return len(due)
