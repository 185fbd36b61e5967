"""Proposals: create them, let each side decide, expire the forgotten ones.

A mentor's capacity is never exceeded: an accept locks the mentor's enrollment row, so racing
accepts for the last slot are serialized by the database and all but one get a 409.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching import pool
from trellis_matching.events import publish
from trellis_matching.proposals.models import Proposal
from trellis_shared.contracts import matching as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem


def _identity(p: Proposal) -> dict[str, Any]:
    return {
        "match_id": p.id,
        "program_id": p.program_id,
        "mentor_id": p.mentor_id,
        "mentee_id": p.mentee_id,
    }


async def propose(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
    score: float,
    explanation: list[dict],
    origin: str,
    run_id: uuid.UUID | None = None,
) -> Proposal:
    """Put a mentor and a mentee to each other, if both are free to be matched."""
    program = await pool.program(session, organization_id, program_id)
    settings = pool.settings(program)
    if mentee_id == mentor_id:
        raise Problem(
            422,
            "Invalid body.mentor: a person cannot mentor themselves",
            errors=[{"field": "body.mentor", "message": "same person as the mentee"}],
        )
    mentee = await pool.enrollment(
        session, organization_id, program_id, mentee_id, "mentee", field="body.mentee"
    )
    mentor = await pool.enrollment(
        session, organization_id, program_id, mentor_id, "mentor", field="body.mentor", lock=True
    )
    await refuse_declined_pair(session, organization_id, program_id, mentee_id, mentor_id)
    accepted, open_ = await pool.mentor_load(session, mentor.id)
    if accepted + open_ >= pool.capacity(mentor, settings):
        raise Problem(
            422,
            "Invalid body.mentor: the mentor has no free capacity in this program",
            errors=[{"field": "body.mentor", "message": "no free capacity"}],
        )
    now = datetime.now(UTC)
    proposal = Proposal(
        organization_id=organization_id,
        program_id=program_id,
        mentee_id=mentee_id,
        mentor_id=mentor_id,
        mentee_enrollment_id=mentee.id,
        mentor_enrollment_id=mentor.id,
        score=score,
        explanation=explanation,
        origin=origin,
        run_id=run_id,
        expires_at=now + timedelta(days=settings.proposal_ttl_days),
        created_at=now,
    )
    session.add(proposal)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Problem(
            409, "This pair already has an open proposal in this program", slug="duplicate-proposal"
        ) from exc
    await publish(
        session,
        contracts.MatchProposed(
            **_identity(proposal),
            score=score,
            explanation=[contracts.FactorExplanation.model_validate(e) for e in explanation],
            origin=origin,
            run_id=run_id,
            expires_at=proposal.expires_at,
            proposed_at=now,
        ),
        tenant=organization_id,
    )
    return proposal


async def refuse_declined_pair(
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
) -> None:
    """409 when the pair was declined before (within the caller's organization only)."""
    declined = await session.scalar(
        select(Proposal.id).where(
            Proposal.organization_id == organization_id,
            Proposal.program_id == program_id,
            Proposal.mentee_id == mentee_id,
            Proposal.mentor_id == mentor_id,
            Proposal.status == "declined",
        )
    )
    if declined is not None:
        raise Problem(
            409, "This pair was declined before and is not proposed again", slug="declined-pair"
        )


async def get(
    *, session: AsyncSession, organization_id: uuid.UUID, proposal_id: uuid.UUID, lock: bool = False
) -> Proposal:
    """A proposal of the organization; another tenant's is simply not found."""
    return await get_in_tenant(
        session, Proposal, proposal_id, organization_id=organization_id, lock=lock
    )


def side_of(proposal: Proposal, person_id: uuid.UUID | None) -> str:
    """Which side the caller is on; anyone else is told the proposal does not exist."""
    if person_id == proposal.mentor_id:
        return "mentor"
    if person_id == proposal.mentee_id:
        return "mentee"
    raise Problem(404, f"No proposal {proposal.id}")


async def accept(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    proposal_id: uuid.UUID,
    person_id: uuid.UUID | None,
) -> Proposal:
    """Record the caller's yes; when every required side said yes, the match is made."""
    proposal = await get(session=session, organization_id=organization_id, proposal_id=proposal_id)
    side = side_of(proposal, person_id)
    _require_open(proposal)  # checked again under the locks below
    program = await pool.program(session, organization_id, proposal.program_id)
    settings = pool.settings(program)
    # Lock order: the mentor's enrollment first (the contended row), then the proposal.
    mentor = await pool.enrollment(
        session,
        organization_id,
        proposal.program_id,
        proposal.mentor_id,
        "mentor",
        field="mentor",
        lock=True,
    )
    # The mentee's row too: two mentors' proposals accepted at once must not both win the mentee.
    await pool.enrollment(
        session,
        organization_id,
        proposal.program_id,
        proposal.mentee_id,
        "mentee",
        field="mentee",
        lock=True,
    )
    proposal = await get(
        session=session, organization_id=organization_id, proposal_id=proposal_id, lock=True
    )
    _require_open(proposal)
    now = datetime.now(UTC)
    if side == "mentor":
        proposal.mentor_accepted_at = proposal.mentor_accepted_at or now
    else:
        proposal.mentee_accepted_at = proposal.mentee_accepted_at or now
    complete = proposal.mentor_accepted_at is not None and (
        settings.approval == "mentor_only" or proposal.mentee_accepted_at is not None
    )
    if complete:
        accepted, _ = await pool.mentor_load(session, mentor.id)
        if accepted >= pool.capacity(mentor, settings):
            raise Problem(409, "The mentor's capacity is already full", slug="capacity-full")
        already = await session.scalar(
            select(Proposal.id).where(
                Proposal.program_id == proposal.program_id,
                Proposal.mentee_id == proposal.mentee_id,
                Proposal.status == "accepted",
            )
        )
        if already is not None:
            raise Problem(
                409, "The mentee already has a mentor in this program", slug="mentee-matched"
            )
        proposal.status = "accepted"
        proposal.decided_at = now
    proposal.version += 1
    session.add(proposal)
    await session.flush()
    if complete:
        await publish(
            session,
            contracts.MatchAccepted(**_identity(proposal), score=proposal.score, accepted_at=now),
            tenant=organization_id,
        )
    return proposal


async def decline(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    proposal_id: uuid.UUID,
    person_id: uuid.UUID | None,
    reason: str | None,
) -> Proposal:
    """Record the caller's no: the proposal closes and the pair is not proposed again."""
    proposal = await get(
        session=session, organization_id=organization_id, proposal_id=proposal_id, lock=True
    )
    side = side_of(proposal, person_id)
    _require_open(proposal)
    now = datetime.now(UTC)
    proposal.status = "declined"
    proposal.declined_by = side
    proposal.decline_reason = reason
    proposal.decided_at = now
    proposal.version += 1
    session.add(proposal)
    await session.flush()
    await publish(
        session,
        contracts.MatchDeclined(
            **_identity(proposal), declined_by=side, reason=reason, declined_at=now
        ),
        tenant=organization_id,
    )
    return proposal


def _require_open(proposal: Proposal) -> None:
    if proposal.status != "proposed":
        raise Problem(
            409, f"The proposal is {proposal.status}, no longer open", slug="proposal-closed"
        )


async def expire_due(*, session: AsyncSession, limit: int = 500) -> int:
    """Close open proposals past their expiry (every tenant), freeing the mentors' slots."""
    due = list(
        (
            await session.exec(
                select(Proposal)
                .where(Proposal.status == "proposed", col(Proposal.expires_at) <= datetime.now(UTC))
                .order_by(col(Proposal.expires_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    now = datetime.now(UTC)
    for proposal in due:
        proposal.status = "expired"
        proposal.decided_at = now
        proposal.version += 1
        session.add(proposal)
        await publish(
            session,
            contracts.MatchExpired(**_identity(proposal), expired_at=now),
            tenant=proposal.organization_id,
        )
    await session.flush()
    return len(due)


async def withdraw_open(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID | None = None,
    enrollment_id: uuid.UUID | None = None,
) -> int:
    """Withdraw the open proposals of a person (erased) or an enrollment (withdrawn)."""
    query = sa.update(Proposal.__table__).where(
        Proposal.organization_id == organization_id, Proposal.status == "proposed"
    )
    if person_id is not None:
        query = query.where(
            sa.or_(Proposal.mentee_id == person_id, Proposal.mentor_id == person_id)
        )
    if enrollment_id is not None:
        query = query.where(
            sa.or_(
                Proposal.mentee_enrollment_id == enrollment_id,
                Proposal.mentor_enrollment_id == enrollment_id,
            )
        )
    result = await session.execute(query.values(status="withdrawn", decided_at=sa.func.now()))
    return result.rowcount or 0


async def list_for(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID | None,
    person_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Proposal], str | None]:
    """Proposals of the organization, newest first, narrowed by program, person and status."""
    query = select(Proposal).where(Proposal.organization_id == organization_id)
    if program_id:
        query = query.where(Proposal.program_id == program_id)
    if person_id:
        query = query.where(
            sa.or_(Proposal.mentee_id == person_id, Proposal.mentor_id == person_id)
        )
    if status:
        query = query.where(Proposal.status == status)
    return await keyset_page(
        session, query, Proposal, limit=limit, cursor=cursor, newest_first=True
    )
