"""Cohort runs: score the whole program, solve it (optimal or stable), report, propose.

Runs are jobs: a run is recorded first, then executed in the background under a claim (an advisory
lock), so among several replicas exactly one executes it; a process that stops halfway leaves it
queued/running and a sweep in any replica resumes it. Re-running is harmless: mentees
who already hold an open or accepted proposal are not matched again, and the open-pair index
refuses a duplicate proposal.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching import pool, scoring
from trellis_matching.engine.assignment import Assignment
from trellis_matching.engine.candidates import top_candidates
from trellis_matching.engine.optimal import solve_optimal
from trellis_matching.engine.stable import solve_stable
from trellis_matching.events import publish
from trellis_matching.runs.models import Run, RunCreate
from trellis_matching.runs.propose import propose_all
from trellis_shared.contracts import matching as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.problems import Problem

log = logging.getLogger("trellis.matching.runs")
CANDIDATES_PER_MENTEE = 50
RESUME_SECONDS = 30.0
# Advisory-lock namespace of run claims (the outbox relay uses another).
_CLAIM_NAMESPACE = 0x7275_6E73
_running: dict[uuid.UUID, asyncio.Task] = {}


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
    """Execute the run in this process unless this process is already executing it."""
    if run_id in _running:
        return
    task = asyncio.create_task(execute(sessionmaker, run_id), name=f"matching-run-{run_id}")
    _running[run_id] = task
    task.add_done_callback(lambda _: _running.pop(run_id, None))


async def resume_pending_runs(runtime: Any, *, every: float = RESUME_SECONDS) -> None:
    """Keep picking up the runs a stopped process left queued or running (any replica may)."""
    while True:
        try:
            async with runtime.sessionmaker() as session:
                pending = (
                    await session.exec(
                        select(Run.id).where(col(Run.status).in_(("queued", "running")))
                    )
                ).all()
            for run_id in pending:
                start_in_background(runtime.sessionmaker, run_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("looking for pending matching runs failed; retrying", exc_info=True)
        await asyncio.sleep(every)


async def _claim(session: AsyncSession, run_id: uuid.UUID) -> bool:
    """Hold the run for this transaction; False when another process or task holds it.

    A transaction-scoped advisory lock rather than a row lock: the run's row stays free for the
    progress updates, and a process that dies mid-run releases the claim with its connection.
    """
    return bool(
        await session.scalar(
            sa.select(
                sa.func.pg_try_advisory_xact_lock(_CLAIM_NAMESPACE, sa.func.hashtext(str(run_id)))
            )
        )
    )


async def _progress(sessionmaker: Any, run_id: uuid.UUID, progress: float, **values: Any) -> None:
    """Record how far the run is, visible at once to GET /matching/runs/{id}."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(Run).where(col(Run.id) == run_id).values(progress=progress, **values)
        )


async def execute(sessionmaker: Any, run_id: uuid.UUID) -> None:
    """Run one matching job to completion (or record why it failed).

    The whole job is one transaction holding the run's claim: its proposals, the results and
    the completion event commit together or not at all, so a run cut short leaves nothing
    half-proposed and the next attempt starts clean.
    """
    try:
        async with sessionmaker() as session, session.begin():
            if not await _claim(session, run_id):
                return
            run = await session.get(Run, run_id, populate_existing=True)
            if run is None or run.status not in ("queued", "running"):
                return
            started = run.started_at or datetime.now(UTC)
            await _progress(sessionmaker, run_id, 0.1, status="running", started_at=started)

            async def step(progress: float) -> None:
                await _progress(sessionmaker, run_id, progress)

            results = await _match(session, run, step)
            run.results, run.status, run.progress = results, "completed", 1.0
            run.started_at, run.finished_at = started, datetime.now(UTC)
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
        raise  # the transaction rolls back; a later sweep (here or in a replica) resumes it
    except Exception as exc:
        log.exception("matching run %s failed", run_id)
        try:
            await _progress(
                sessionmaker,
                run_id,
                0.0,
                status="failed",
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=datetime.now(UTC),
            )
        except Exception:  # the database itself is away: the run stays pending and is resumed
            log.warning("could not record the failure of run %s", run_id, exc_info=True)


async def _match(
    session: AsyncSession, run: Run, step: Callable[[float], Awaitable[None]]
) -> dict[str, Any]:
    loaded = await scoring.load_pool(
        session, run.organization_id, run.program_id, only_unmatched=True
    )
    await step(0.2)
    weights, constraints = loaded.settings.weights, loaded.settings.constraints
    candidates = await asyncio.to_thread(
        top_candidates, loaded.cohort, weights, constraints, CANDIDATES_PER_MENTEE
    )
    await step(0.5)
    optimal = await asyncio.to_thread(solve_optimal, candidates, loaded.free)
    chosen = (
        optimal
        if run.mode == "optimal"
        else await asyncio.to_thread(solve_stable, candidates, loaded.free)
    )
    await step(0.7)
    results = _report(loaded, candidates, chosen, optimal)
    if not run.dry_run:
        await step(0.8)
        results["proposals_created"] = await propose_all(
            session, run, loaded, chosen, _pair_scores(candidates, chosen)
        )
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
