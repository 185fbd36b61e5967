"""Cohort runs: score the whole program, solve it (optimal or stable), report, propose.

Runs are jobs: a run is recorded first, then executed in the background; a process that stops
halfway leaves it queued/running and the next start resumes it. Re-running is harmless: mentees
who already hold an open or accepted proposal are not matched again, and the open-pair index
refuses a duplicate proposal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching import pool, scoring
from trellis_matching.engine.candidates import top_candidates
from trellis_matching.engine.explain import explain
from trellis_matching.engine.solve import Assignment, solve_optimal, solve_stable
from trellis_matching.events import publish
from trellis_matching.proposals import service as proposals
from trellis_matching.runs.models import Run, RunCreate
from trellis_shared.contracts import matching as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.problems import Problem

log = logging.getLogger("trellis.matching.runs")
CANDIDATES_PER_MENTEE = 50
_running: set[asyncio.Task] = set()


async def create(
    *, session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID, data: RunCreate
) -> Run:
    """Record a run of the program; refuse one that could only be an empty success."""
    await pool.program(session, organization_id, program_id)
    loaded = await scoring.load_pool(session, organization_id, program_id, only_unmatched=True)
    if not loaded.mentors:
        raise Problem(422, "The program has no active mentors to match with", slug="no-mentors")
    if int(loaded.free.sum()) == 0:
        raise Problem(422, "Every mentor of the program is at capacity", slug="no-capacity")
    run = Run(
        organization_id=organization_id, program_id=program_id, mode=data.mode, dry_run=data.dry_run
    )
    session.add(run)
    await session.flush()
    return run


async def get(*, session: AsyncSession, organization_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    return await get_in_tenant(session, Run, run_id, organization_id=organization_id)


def start_in_background(sessionmaker: Any, run_id: uuid.UUID) -> None:
    task = asyncio.create_task(execute(sessionmaker, run_id), name=f"matching-run-{run_id}")
    _running.add(task)
    task.add_done_callback(_running.discard)


async def resume_pending_runs(runtime: Any) -> None:
    """Start again the runs an earlier process left queued or running."""
    async with runtime.sessionmaker() as session:
        pending = (
            await session.exec(select(Run.id).where(col(Run.status).in_(("queued", "running"))))
        ).all()
    for run_id in pending:
        start_in_background(runtime.sessionmaker, run_id)


async def execute(sessionmaker: Any, run_id: uuid.UUID) -> None:
    """Run one matching job to completion (or record why it failed)."""
    try:
        async with sessionmaker() as session, session.begin():
            run = (await session.exec(select(Run).where(Run.id == run_id).with_for_update())).one()
            if run.status not in ("queued", "running"):
                return
            run.status, run.started_at, run.progress = "running", datetime.now(UTC), 0.1
            session.add(run)
        async with sessionmaker() as session, session.begin():
            run = (await session.exec(select(Run).where(Run.id == run_id).with_for_update())).one()
            results = await _match(session, run)
            run.results, run.status, run.progress = results, "completed", 1.0
            run.finished_at = datetime.now(UTC)
            session.add(run)
            await publish(
                session,
                contracts.MatchingRunCompleted(
                    run_id=run.id,
                    program_id=run.program_id,
                    mode=run.mode,
                    dry_run=run.dry_run,
                    matched=results["matched"],
                    unmatched=len(results["unmatched"]),
                    total_score=results["total_score"],
                    completed_at=run.finished_at,
                ),
                tenant=run.organization_id,
            )
    except asyncio.CancelledError:
        raise  # the next start resumes it
    except Exception as exc:
        log.exception("matching run %s failed", run_id)
        async with sessionmaker() as session, session.begin():
            run = (await session.exec(select(Run).where(Run.id == run_id))).one()
            run.status, run.error, run.finished_at = (
                "failed",
                f"{type(exc).__name__}: {exc}",
                datetime.now(UTC),
            )
            session.add(run)


async def _match(session: AsyncSession, run: Run) -> dict[str, Any]:
    loaded = await scoring.load_pool(
        session, run.organization_id, run.program_id, only_unmatched=True
    )
    weights, constraints = loaded.settings.weights, loaded.settings.constraints
    candidates = await asyncio.to_thread(
        top_candidates, loaded.cohort, weights, constraints, CANDIDATES_PER_MENTEE
    )
    optimal = await asyncio.to_thread(solve_optimal, candidates, loaded.free)
    chosen = (
        optimal
        if run.mode == "optimal"
        else await asyncio.to_thread(solve_stable, candidates, loaded.free)
    )
    results = _report(loaded, candidates, chosen, optimal)
    if not run.dry_run:
        results["proposals_created"] = await _propose(session, run, loaded, chosen, candidates)
    return results


def _pair_scores(candidates: Any, assignment: Assignment) -> np.ndarray:
    """Score of each mentee's chosen pair (0 when unmatched)."""
    scores = np.zeros(candidates.n_mentees, dtype=np.float64)
    chosen = assignment.mentor_of[candidates.mentee] == candidates.mentor
    scores[candidates.mentee[chosen]] = candidates.score[chosen]
    return scores


def _report(
    loaded: scoring.Pool, candidates: Any, chosen: Assignment, optimal: Assignment
) -> dict[str, Any]:
    scores = _pair_scores(candidates, chosen)
    matched_mask = chosen.mentor_of >= 0
    has_candidates = np.bincount(candidates.mentee, minlength=candidates.n_mentees) > 0
    unmatched = [
        {
            "mentee_id": str(loaded.mentees[i][1].id),
            "reason": "every mentor with free places breaks a hard constraint for this mentee"
            if not has_candidates[i]
            else "the mentors this mentee fits were at capacity with higher-scoring pairs",
        }
        for i in np.flatnonzero(~matched_mask).tolist()
    ]
    used = chosen.load(candidates.n_mentors)
    results: dict[str, Any] = {
        "mode": chosen.method,
        "mentees": candidates.n_mentees,
        "mentors": candidates.n_mentors,
        "matched": int(matched_mask.sum()),
        "unmatched": unmatched,
        "total_score": round(float(chosen.objective), 6),
        "mean_score": round(float(scores[matched_mask].mean()), 6) if matched_mask.any() else 0.0,
        "worst_off_score": round(float(scores.min()), 6) if len(scores) else 0.0,
        "capacity_use": {"used": int(used.sum()), "available": int(loaded.free.sum())},
        "optimal_total_score": round(float(optimal.objective), 6),
    }
    if optimal.certificate is not None:
        cert = optimal.certificate
        results["optimality"] = {
            "status": optimal.status,
            "certificate_verified": bool(cert.verified),
            "primal_objective_scaled": int(cert.primal_objective_scaled),
            "dual_bound_scaled": int(cert.dual_objective_scaled),
            "statement": "an LP dual bound equal to the objective proves it is the maximum on the "
            "candidate graph",
        }
    if optimal.pruning is not None:
        p = optimal.pruning
        results["pruning"] = {
            "candidates_per_mentee": p.k,
            "edges_kept": p.edges_kept,
            "edges_full": p.edges_full,
            "loss_bound": p.loss_bound,
            "statement": "the optimum over ALL feasible pairs is at most total_score + loss_bound",
        }
    if chosen.blocking_pairs is not None:
        results["blocking_pairs"] = int(chosen.blocking_pairs)
    return results


async def _propose(
    session: AsyncSession, run: Run, loaded: scoring.Pool, chosen: Assignment, candidates: Any
) -> int:
    created = 0
    weights, constraints = loaded.settings.weights, loaded.settings.constraints
    scores = _pair_scores(candidates, chosen)
    for mentee_index in np.flatnonzero(chosen.mentor_of >= 0).tolist():
        mentor_index = int(chosen.mentor_of[mentee_index])
        why = scoring.explained(
            explain(loaded.cohort, weights, constraints, mentee_index, mentor_index)
        )
        try:
            async with session.begin_nested():
                await proposals.propose(
                    session=session,
                    organization_id=run.organization_id,
                    program_id=run.program_id,
                    mentee_id=loaded.mentees[mentee_index][1].id,
                    mentor_id=loaded.mentors[mentor_index][1].id,
                    score=float(scores[mentee_index]),
                    explanation=why.factors,
                    origin="run",
                    run_id=run.id,
                )
            created += 1
        except Problem as exc:  # a pair decided meanwhile (or by an earlier attempt of this run)
            log.info("run %s skipped a pair: %s", run.id, exc.detail)
    return created
