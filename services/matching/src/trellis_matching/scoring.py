"""From matching's read model to the engine and back: cohorts, explanations, suggestions.

The engine (engine/) is pure numpy; this module loads what it needs from the database and turns
its answers into API shapes. Free capacity = capacity - accepted - open proposals.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching import pool
from trellis_matching.engine.candidates import top_candidates
from trellis_matching.engine.explain import explain
from trellis_matching.engine.features import build_cohort
from trellis_matching.engine.profiles import MenteeProfile, MentorProfile
from trellis_matching.models import EnrollmentView, PersonView
from trellis_matching.proposals.models import Proposal
from trellis_shared.contracts.profiles import MatchingSettings
from trellis_shared.problems import Problem


@dataclass
class Pool:
    """One program's matchable people, in the engine's index order."""

    settings: MatchingSettings
    mentees: list[tuple[EnrollmentView, PersonView]]
    mentors: list[tuple[EnrollmentView, PersonView]]
    free: np.ndarray  # int32 free places per mentor
    cohort: Any = None
    unmatched_reasons: dict[uuid.UUID, str] = field(default_factory=dict)


async def _people(session: AsyncSession, organization_id: uuid.UUID, ids: list[uuid.UUID]) -> dict:
    if not ids:
        return {}
    rows = (
        await session.exec(
            select(PersonView).where(
                PersonView.organization_id == organization_id, PersonView.id.in_(ids)
            )
        )
    ).all()
    return {p.id: p for p in rows}


async def _managers(session: AsyncSession, organization_id: uuid.UUID) -> dict:
    rows = (
        await session.execute(
            sa.select(PersonView.id, PersonView.profile["manager_id"].astext).where(
                PersonView.organization_id == organization_id,
                PersonView.profile["manager_id"].astext.is_not(None),
            )
        )
    ).all()
    return {pid: uuid.UUID(manager) for pid, manager in rows if manager}


async def _decided_pairs(
    session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> dict[str, set]:
    """Pairs never to propose again (declined) or already open/accepted, keyed by person."""
    rows = (
        await session.exec(
            select(Proposal.mentee_id, Proposal.mentor_id, Proposal.status).where(
                Proposal.organization_id == organization_id,
                Proposal.program_id == program_id,
                Proposal.status.in_(("declined", "proposed", "accepted")),
            )
        )
    ).all()
    declined: dict[uuid.UUID, set] = {}
    busy: set[uuid.UUID] = set()
    load: dict[uuid.UUID, int] = {}
    for mentee, mentor, status in rows:
        if status == "declined":
            declined.setdefault(mentee, set()).add(mentor)
        else:
            busy.add(mentee)
            load[mentor] = load.get(mentor, 0) + 1
    return {"declined": declined, "busy": busy, "load": load}


def _profile(view: PersonView) -> dict:
    # Ids arrive as JSON strings; the engine compares them with person ids (UUIDs).
    manager = view.profile.get("manager_id")
    return {
        **view.profile,
        "person_id": view.id,
        "manager_id": uuid.UUID(manager) if manager else None,
    }


async def load_pool(
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    *,
    mentee_ids: list[uuid.UUID] | None = None,
    only_unmatched: bool = False,
) -> Pool:
    """The program's active mentors (with free places) and mentees, built into a cohort."""
    program = await pool.program(session, organization_id, program_id)
    settings = pool.settings(program)
    query = select(EnrollmentView).where(
        EnrollmentView.organization_id == organization_id,
        EnrollmentView.program_id == program_id,
        EnrollmentView.status == "active",
    )
    enrollments = (await session.exec(query)).all()
    people = await _people(session, organization_id, [e.person_id for e in enrollments])
    decided = await _decided_pairs(session, organization_id, program_id)
    result = Pool(settings=settings, mentees=[], mentors=[], free=np.zeros(0, np.int32))
    free = []
    for enrollment in enrollments:
        person = people.get(enrollment.person_id)
        if person is None:
            continue  # the profile has not arrived yet (eventual consistency) or was erased
        if enrollment.role == "mentor":
            places = pool.capacity(enrollment, settings) - decided["load"].get(person.id, 0)
            result.mentors.append((enrollment, person))
            free.append(max(places, 0))
        elif mentee_ids is None or person.id in mentee_ids:
            if only_unmatched and person.id in decided["busy"]:
                continue
            result.mentees.append((enrollment, person))
    result.free = np.asarray(free, dtype=np.int32)
    mentees = [
        MenteeProfile.from_records(_profile(p), e, declined_with=decided["declined"].get(p.id, ()))
        for e, p in result.mentees
    ]
    mentors = [
        MentorProfile.from_records(
            _profile(p), e, default_capacity=settings.default_mentor_capacity
        )
        for e, p in result.mentors
    ]
    mentors = [
        _with_capacity(m, int(places)) for m, places in zip(mentors, result.free, strict=True)
    ]
    result.cohort = build_cohort(
        mentees, mentors, managers=await _managers(session, organization_id)
    )
    return result


def _with_capacity(mentor: MentorProfile, places: int) -> MentorProfile:
    from dataclasses import replace

    return replace(mentor, capacity=places)


@dataclass
class Explained:
    score: float
    feasible: bool
    factors: list[dict]
    violations: list[str]


def explained(result: Any) -> Explained:
    """The engine's explanation in the API's shape (factors that do not count are left out)."""
    return Explained(
        score=float(result.score) if result.feasible and result.score is not None else 0.0,
        feasible=bool(result.feasible),
        factors=[
            {
                "factor": f.name,
                "value": round(float(f.value), 4),
                "weight": float(f.weight),
                "reasons": [r.text for r in f.reasons],
            }
            for f in result.factors
            if f.counted
        ],
        violations=[r.text for r in result.violations],
    )


async def explain_pair(
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    *,
    mentee_id: uuid.UUID,
    mentor_id: uuid.UUID,
) -> Explained:
    """Score one pair with reasons; a pair breaking a hard constraint is a 422 saying which."""
    loaded = await load_pool(session, organization_id, program_id, mentee_ids=[mentee_id])
    mentee_index = next((i for i, (_, p) in enumerate(loaded.mentees) if p.id == mentee_id), None)
    mentor_index = next((i for i, (_, p) in enumerate(loaded.mentors) if p.id == mentor_id), None)
    if mentee_index is None:
        raise Problem(
            422,
            "Invalid body.mentee: not enrolled as mentee in this program",
            errors=[{"field": "body.mentee", "message": "not enrolled as mentee"}],
        )
    if mentor_index is None:
        raise Problem(
            422,
            "Invalid body.mentor: not enrolled as mentor in this program",
            errors=[{"field": "body.mentor", "message": "not enrolled as mentor"}],
        )
    result = explained(
        explain(
            loaded.cohort,
            loaded.settings.weights,
            loaded.settings.constraints,
            mentee_index,
            mentor_index,
        )
    )
    if not result.feasible:
        reasons = "; ".join(result.violations) or "a hard constraint"
        raise Problem(
            422,
            f"Invalid body.mentor: this pair breaks the program's rules ({reasons})",
            errors=[{"field": "body.mentor", "message": reasons}],
            violations=result.violations,
        )
    return result


async def suggestions(
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    *,
    mentee_id: uuid.UUID,
    limit: int,
) -> list[dict]:
    """The mentee's best feasible mentors with free places, each with its explanation."""
    loaded = await load_pool(session, organization_id, program_id, mentee_ids=[mentee_id])
    if not loaded.mentees:
        raise Problem(
            422,
            "Invalid query.mentee: not enrolled as mentee in this program",
            errors=[{"field": "query.mentee", "message": "not enrolled as mentee"}],
        )
    if not loaded.mentors:
        return []
    weights, constraints = loaded.settings.weights, loaded.settings.constraints
    # One mentee: its own top list only (mentor-side lists serve cohort runs).
    found = top_candidates(loaded.cohort, weights, constraints, k=limit, mentor_k=0)
    out = []
    for mentor_index, score in zip(found.mentor.tolist(), found.score.tolist(), strict=True):
        _, person = loaded.mentors[mentor_index]
        why = explained(explain(loaded.cohort, weights, constraints, 0, mentor_index))
        out.append(
            {
                "mentor_id": person.id,
                "full_name": person.full_name,
                "score": round(score, 4),
                "free_capacity": int(loaded.free[mentor_index]),
                "factors": why.factors,
            }
        )
    return out
