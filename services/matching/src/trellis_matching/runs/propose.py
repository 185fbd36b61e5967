"""A run's proposals, made in bulk inside the run's transaction.

The checks are a manual proposal's (proposals.service.propose) - both enrollments still active,
the pair never declined, the mentor's capacity, one open proposal per pair - but each is one
statement for the whole run instead of one per pair: proposing 1,200 pairs one by one took eight
round trips each. The mentors' enrollment rows are locked, in id order, exactly as an accept
locks one, so a run and racing accepts can never both take a mentor's last place.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching import pool, scoring
from trellis_matching.engine.assignment import Assignment
from trellis_matching.engine.explain import explain
from trellis_matching.events import publish_many
from trellis_matching.models import EnrollmentView
from trellis_matching.proposals.models import Proposal
from trellis_matching.runs.models import Run
from trellis_shared.contracts import matching as contracts

log = logging.getLogger("trellis.matching.runs")


async def propose_all(
    session: AsyncSession, run: Run, loaded: scoring.Pool, chosen: Assignment, scores: np.ndarray
) -> int:
    """Propose every pair of the assignment that is still allowed; how many were proposed."""
    pairs = [(int(i), int(chosen.mentor_of[i])) for i in np.flatnonzero(chosen.mentor_of >= 0)]
    if not pairs:
        return 0
    org, program_id = run.organization_id, run.program_id
    mentors = await _locked_mentors(session, org, {loaded.mentors[j][0].id for _, j in pairs})
    mentees = await _active(session, org, [loaded.mentees[i][0].id for i, _ in pairs])
    load = await _load(session, org, list(mentors))
    refused = await _refused_pairs(session, org, program_id)
    busy = await _busy(session, org, program_id)
    settings = loaded.settings
    kept = []
    for i, j in pairs:
        mentee, mentee_person = loaded.mentees[i]
        mentor = mentors.get(loaded.mentors[j][0].id)
        pair = (mentee_person.id, loaded.mentors[j][1].id)
        if mentor is None or mentee.id not in mentees or pair in refused:
            log.info("run %s skipped %s: withdrawn, declined or already proposed", run.id, pair)
            continue
        if mentee_person.id in busy:
            log.info("run %s skipped %s: the mentee was matched meanwhile", run.id, pair)
            continue
        if load[mentor.id] >= pool.capacity(mentor, settings):
            log.info("run %s skipped %s: the mentor filled up meanwhile", run.id, pair)
            continue
        load[mentor.id] += 1
        kept.append((i, j, mentee, mentor, pair))

    def explanations() -> list[list[dict]]:  # ~1 ms a pair: off the event loop
        return [
            scoring.explained(
                explain(loaded.cohort, settings.weights, settings.constraints, i, j)
            ).factors
            for i, j, *_ in kept
        ]

    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": org,
            "program_id": program_id,
            "mentee_id": mentee_id,
            "mentor_id": mentor_id,
            "mentee_enrollment_id": mentee.id,
            "mentor_enrollment_id": mentor.id,
            "score": float(scores[i]),
            "explanation": why,
            "origin": "run",
            "run_id": run.id,
            "status": "proposed",
            "expires_at": now + timedelta(days=settings.proposal_ttl_days),
            "created_at": now,
            "version": 1,
        }
        for (i, _, mentee, mentor, (mentee_id, mentor_id)), why in zip(
            kept, await asyncio.to_thread(explanations), strict=True
        )
    ]
    if not rows:
        return 0
    # The open-pair index has the last word (a pair proposed by hand a moment ago).
    statement = (
        insert(Proposal)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["program_id", "mentee_id", "mentor_id"],
            index_where=sa.text("status = 'proposed'"),
        )
        .returning(col(Proposal.id))
    )
    created = set((await session.execute(statement)).scalars().all())
    await publish_many(
        session,
        [
            contracts.MatchProposed(
                match_id=row["id"],
                program_id=program_id,
                mentor_id=row["mentor_id"],
                mentee_id=row["mentee_id"],
                score=row["score"],
                explanation=[
                    contracts.FactorExplanation.model_validate(e) for e in row["explanation"]
                ],
                origin="run",
                run_id=run.id,
                expires_at=row["expires_at"],
                proposed_at=now,
            )
            for row in rows
            if row["id"] in created
        ],
        tenant=org,
    )
    return len(created)


async def _locked_mentors(
    session: AsyncSession, organization_id: uuid.UUID, ids: set[uuid.UUID]
) -> dict[uuid.UUID, EnrollmentView]:
    rows = (
        await session.exec(
            select(EnrollmentView)
            .where(
                EnrollmentView.organization_id == organization_id,
                col(EnrollmentView.id).in_(ids),
                EnrollmentView.status == "active",
            )
            .order_by(col(EnrollmentView.id))
            .with_for_update()
        )
    ).all()
    return {e.id: e for e in rows}


async def _active(
    session: AsyncSession, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    rows = await session.exec(
        select(EnrollmentView.id).where(
            EnrollmentView.organization_id == organization_id,
            col(EnrollmentView.id).in_(ids),
            EnrollmentView.status == "active",
        )
    )
    return set(rows.all())


async def _load(
    session: AsyncSession, organization_id: uuid.UUID, mentor_ids: list[uuid.UUID]
) -> Counter[uuid.UUID]:
    """Places each mentor already has taken: accepted and open proposals."""
    rows = await session.exec(
        select(Proposal.mentor_enrollment_id, sa.func.count())
        .where(
            Proposal.organization_id == organization_id,
            col(Proposal.mentor_enrollment_id).in_(mentor_ids),
            col(Proposal.status).in_(("accepted", "proposed")),
        )
        .group_by(Proposal.mentor_enrollment_id)
    )
    return Counter(dict(rows.all()))


async def _refused_pairs(
    session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(mentee, mentor) pairs of the program that were declined or are already open."""
    rows = await session.exec(
        select(Proposal.mentee_id, Proposal.mentor_id).where(
            Proposal.organization_id == organization_id,
            Proposal.program_id == program_id,
            col(Proposal.status).in_(("declined", "proposed")),
        )
    )
    return set(rows.all())


async def _busy(
    session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> set[uuid.UUID]:
    """Mentees of the program who hold an open or accepted proposal (the pool was read earlier)."""
    rows = await session.exec(
        select(Proposal.mentee_id).where(
            Proposal.organization_id == organization_id,
            Proposal.program_id == program_id,
            col(Proposal.status).in_(("accepted", "proposed")),
        )
    )
    return set(rows.all())
