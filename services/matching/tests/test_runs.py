"""Cohort runs: an admin matches a whole program (optimal or stable) and gets the evidence.

The optimum is checked independently: the scores every mentee's suggestions show are put into a
dense capacity-expanded assignment (scipy), whose best total the run must equal. Stability is
checked the same way, pair by pair, from those scores.
"""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.optimize import linear_sum_assignment

from trellis_infra.pytest_plugin import bearer, eventually, settings_for
from trellis_matching.runs.service import execute, resume_pending_runs
from trellis_matching.settings import MatchingSettings
from trellis_shared.db import create_engine, create_sessionmaker

RUN_TOPIC = "trellis.matching.matching_run"
RUN_COMPLETED = "trellis.matching.matching_run.completed.v1"
# Suggestion scores are shown to 4 decimals; a dozen pairs stay well inside this.
TOTAL_TOLERANCE = 2e-3
# Two scores closer than this may be a tie the shown rounding hides; stability ignores them.
TIE = 1e-3


async def _start(world, cohort, headers=None, **body):
    return await world.matching.post(
        f"/matching/programs/{cohort.id}/runs", json=body, headers=headers or cohort.admin
    )


async def _run(world, cohort, **body) -> dict:
    """Start a run and wait for it to finish; the finished run resource."""
    started = await _start(world, cohort, **body)
    assert started.status_code == 202, started.text
    run = started.json()
    assert started.headers["location"] == f"/matching/runs/{run['id']}"
    assert run["status"] in ("queued", "running", "completed")
    assert (run["mode"], run["dry_run"]) == (body["mode"], body.get("dry_run", False))
    done = await eventually(
        lambda: world.matching.get(f"/matching/runs/{run['id']}", headers=cohort.admin),
        until=lambda r: r.json()["status"] in ("completed", "failed"),
        timeout=60,
    )
    finished = done.json()
    assert finished["status"] == "completed", finished
    assert finished["progress"] == 1.0
    return finished


async def _score_table(world, cohort) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Every feasible pair's score as the mentees' suggestions show it (0 = not suggested), and
    each mentor's free places."""
    mentees = [m.id for m in cohort.mentees]
    mentors = [m.id for m in cohort.mentors]
    scores = np.zeros((len(mentees), len(mentors)))
    free = np.zeros(len(mentors), dtype=int)
    for i, mentee in enumerate(mentees):
        response = await world.matching.get(
            f"/matching/programs/{cohort.id}/suggestions",
            params={"mentee": mentee, "limit": 50},
            headers=cohort.admin,
        )
        assert response.status_code == 200, response.text
        for s in response.json()["data"]:
            j = mentors.index(s["mentor_id"])
            scores[i, j] = s["score"]
            free[j] = s["free_capacity"]
    return scores, free, mentees, mentors


def _dense_optimum(scores: np.ndarray, free: np.ndarray) -> float:
    columns = np.repeat(np.arange(len(free)), free)
    if not len(columns):
        return 0.0
    expanded = scores[:, columns]
    rows, cols = linear_sum_assignment(expanded, maximize=True)
    return float(expanded[rows, cols].sum())


async def _open_proposals(world, cohort) -> list[dict]:
    return await world.proposals(cohort, status="proposed")


async def _capacity_mix(world):
    """6 mentors with 8 places for 12 mentees; one mentee shares no language with any mentor."""
    cohort = await world.cohort(mentors=6, mentees=11, capacities=[1, 2, 1, 2, 1, 1], seed=11)
    loner = await world.mentee(
        cohort, languages=["ja"], time_zone="Asia/Tokyo", full_name="Haruki Loner"
    )
    await world.synced(cohort)
    return cohort, loner


async def test_an_optimal_dry_run_reports_a_proven_optimum_and_proposes_nothing(world):
    cohort, loner = await _capacity_mix(world)
    scores, free, mentees, _ = await _score_table(world, cohort)
    assert free.tolist() == [1, 2, 1, 2, 1, 1]
    assert not scores[mentees.index(loner.id)].any(), "no mentor shares a language with the loner"

    run = await _run(world, cohort, mode="optimal", dry_run=True)

    results = run["results"]
    assert results["matched"] == 8
    unmatched = {u["mentee_id"]: u["reason"] for u in results["unmatched"]}
    assert len(unmatched) == 4 and all(unmatched.values())
    assert loner.id in unmatched
    assert "constraint" in unmatched[loner.id]
    assert {u for u in unmatched if u != loner.id} <= set(mentees)
    assert abs(results["total_score"] - _dense_optimum(scores, free)) < TOTAL_TOLERANCE
    assert results["mean_score"] == pytest.approx(results["total_score"] / 8, abs=1e-5)
    # The worst-off mentee of the cohort is an unmatched one.
    assert results["worst_off_score"] == 0
    assert results["capacity_use"] == {"used": 8, "available": 8}
    optimality = results["optimality"]
    assert optimality["certificate_verified"] is True
    assert optimality["dual_bound_scaled"] == optimality["primal_objective_scaled"]
    assert optimality["statement"]
    assert results["pruning"]["loss_bound"] >= 0 and results["pruning"]["statement"]
    assert results["optimal_total_score"] == results["total_score"]
    assert "proposals_created" not in results or results["proposals_created"] == 0
    assert await world.proposals(cohort) == []


async def test_a_stable_run_has_no_blocking_pair_and_reports_the_optimal_total(world):
    cohort, loner = await _capacity_mix(world)
    scores, free, mentees, mentors = await _score_table(world, cohort)

    run = await _run(world, cohort, mode="stable")

    results = run["results"]
    assert results["blocking_pairs"] == 0
    assert results["total_score"] <= results["optimal_total_score"] + 1e-6
    assert abs(results["optimal_total_score"] - _dense_optimum(scores, free)) < TOTAL_TOLERANCE
    proposals = await _open_proposals(world, cohort)
    assert len(proposals) == results["matched"] > 0
    assert {p["origin"] for p in proposals} == {"run"}
    assert {p["run_id"] for p in proposals} == {run["id"]}
    assert loner.id not in {p["mentee_id"] for p in proposals}
    # Check stability ourselves: no mentee and mentor who both prefer each other to what they got.
    assigned = {mentees.index(p["mentee_id"]): mentors.index(p["mentor_id"]) for p in proposals}
    load = np.bincount(list(assigned.values()), minlength=len(mentors))
    assert (load <= free).all()
    blocking = []
    for i in range(len(mentees)):
        mine = scores[i, assigned[i]] if i in assigned else 0.0
        for j in range(len(mentors)):
            if scores[i, j] == 0 or scores[i, j] <= mine + TIE or assigned.get(i) == j:
                continue
            theirs = [scores[k, j] for k, m in assigned.items() if m == j]
            if load[j] < free[j] or any(scores[i, j] > s + TIE for s in theirs):
                blocking.append((mentees[i], mentors[j]))
    assert blocking == []


async def test_a_run_proposes_once_and_a_rerun_fills_only_what_changed(world):
    # 18 places for 12 mentees: everyone can be matched, and a freed mentee can be matched again.
    cohort = await world.cohort(mentors=6, mentees=12, capacities=[3], seed=5)
    capacity = {m.id: 3 for m in cohort.mentors}

    first = await _run(world, cohort, mode="optimal")

    assert first["results"]["matched"] == 12
    assert first["results"]["proposals_created"] == 12
    proposals = await _open_proposals(world, cohort)
    assert len(proposals) == 12
    assert sorted(p["mentee_id"] for p in proposals) == sorted(m.id for m in cohort.mentees)
    for mentor_id, places in capacity.items():
        assert sum(p["mentor_id"] == mentor_id for p in proposals) <= places
    assert {(p["origin"], p["run_id"]) for p in proposals} == {("run", first["id"])}
    assert all(p["explanation"] for p in proposals)
    total = sum(p["score"] for p in proposals)
    assert abs(total - first["results"]["total_score"]) < TOTAL_TOLERANCE
    [event] = await eventually(lambda: world.events(RUN_TOPIC, first["id"]), until=len)
    assert event.type == RUN_COMPLETED
    assert (event.data.matched, event.data.dry_run, event.data.mode) == (12, False, "optimal")

    # Running again changes nothing: nobody is proposed twice.
    again = await _run(world, cohort, mode="optimal")
    assert again["results"].get("proposals_created", 0) == 0
    assert sorted(p["id"] for p in await _open_proposals(world, cohort)) == sorted(
        p["id"] for p in proposals
    )

    # A mentee declines; the next run finds them another mentor, never the declined one.
    mentee = cohort.mentees[0]
    theirs = next(p for p in proposals if p["mentee_id"] == mentee.id)
    declined = await world.matching.post(
        f"/matching/proposals/{theirs['id']}/decline", json={}, headers=cohort.as_(mentee)
    )
    assert declined.status_code == 200, declined.text
    third = await _run(world, cohort, mode="optimal")
    assert third["results"]["proposals_created"] == 1
    now_open = await _open_proposals(world, cohort)
    assert len(now_open) == 12
    [fresh] = [p for p in now_open if p["mentee_id"] == mentee.id]
    assert fresh["mentor_id"] != theirs["mentor_id"]
    assert fresh["run_id"] == third["id"]
    pairs = [(p["mentee_id"], p["mentor_id"]) for p in now_open]
    assert len(pairs) == len(set(pairs))


async def test_a_run_never_proposes_a_declined_pair(world):
    cohort = await world.cohort(mentors=1, mentees=1, capacities=[2])
    [mentor], [mentee] = cohort.mentors, cohort.mentees
    proposed = await world.matching.post(
        f"/matching/programs/{cohort.id}/proposals",
        json={"mentee": mentee.id, "mentor": mentor.id},
        headers=cohort.admin,
    )
    assert proposed.status_code == 201, proposed.text
    await world.matching.post(
        f"/matching/proposals/{proposed.json()['id']}/decline",
        json={"reason": "We worked together before"},
        headers=cohort.as_(mentor),
    )

    run = await _run(world, cohort, mode="optimal")

    assert run["results"]["matched"] == 0
    assert [u["mentee_id"] for u in run["results"]["unmatched"]] == [mentee.id]
    assert run["results"]["unmatched"][0]["reason"]
    assert [p["status"] for p in await world.proposals(cohort)] == ["declined"]


async def test_a_dry_run_and_a_real_one_agree(world):
    cohort = await world.cohort(mentors=4, mentees=8, capacities=[1, 2], seed=3)

    dry = await _run(world, cohort, mode="stable", dry_run=True)
    assert await world.proposals(cohort) == []
    real = await _run(world, cohort, mode="stable")

    for key in ("matched", "total_score", "blocking_pairs", "optimal_total_score"):
        assert dry["results"][key] == real["results"][key], key
    assert len(await _open_proposals(world, cohort)) == real["results"]["matched"] == 6


async def test_bad_runs_are_refused_with_a_clear_problem(world):
    cohort = await world.cohort(mentors=1, mentees=2, capacities=[1])
    no_mentors = await world.program(cohort.org, name="Mentees only")
    await world.mentee(no_mentors)
    await world.synced(no_mentors)
    stranger = bearer(org=uuid.uuid4(), roles=["org_admin"])

    unknown_mode = await _start(world, cohort, mode="greedy")
    extra = await _start(world, cohort, mode="optimal", budget=3)
    by_member = await _start(world, cohort, headers=cohort.as_(cohort.mentees[0]), mode="optimal")
    foreign = await _start(world, cohort, headers=stranger, mode="optimal")
    nowhere = await world.matching.post(
        f"/matching/programs/{uuid.uuid4()}/runs", json={"mode": "optimal"}, headers=cohort.admin
    )
    empty = await _start(world, no_mentors, mode="optimal")

    assert unknown_mode.status_code == 422, unknown_mode.text
    assert "body.mode" in [e["field"] for e in unknown_mode.json()["errors"]]
    assert extra.status_code == 422, extra.text
    assert by_member.status_code == 403, by_member.text
    assert foreign.status_code == 404, foreign.text
    assert nowhere.status_code == 404, nowhere.text
    assert empty.status_code == 422, empty.text
    assert "mentor" in empty.json()["detail"].lower()
    assert await world.proposals(cohort) == []

    # A run is visible to its organization's admins only.
    run = await _run(world, cohort, mode="optimal", dry_run=True)
    url = f"/matching/runs/{run['id']}"
    assert (await world.matching.get(url, headers=stranger)).status_code == 404
    by_mentee = await world.matching.get(url, headers=cohort.as_(cohort.mentees[0]))
    assert by_mentee.status_code in (403, 404)
    unknown = await world.matching.get(f"/matching/runs/{uuid.uuid4()}", headers=cohort.admin)
    assert unknown.status_code == 404


async def _left_behind(world, cohort, status: str) -> uuid.UUID:
    """A run row as a process that stopped mid-way leaves it (nothing executes it here)."""
    run_id = uuid.uuid4()
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO run (id, organization_id, program_id, mode, dry_run, status, "
                "progress, results, created_at) VALUES (:id, :org, :program, 'optimal', false, "
                ":status, 0.1, '{}'::jsonb, now())"
            ),
            {"id": run_id, "org": cohort.org, "program": cohort.id, "status": status},
        )
    return run_id


async def test_replicas_racing_for_one_run_execute_it_exactly_once(world, stack):
    cohort = await world.cohort(mentors=3, mentees=6, capacities=[2], seed=21)
    await world.synced(cohort)
    run_id = await _left_behind(world, cohort, "queued")
    settings = settings_for(stack, "matching", MatchingSettings)
    engine = create_engine(settings)
    try:
        # Three executors at once, as three replicas' sweeps would be: one claims, two step aside.
        await asyncio.gather(
            *(execute(create_sessionmaker(engine, settings), run_id) for _ in range(3))
        )
    finally:
        await engine.dispose()
    run = (await world.matching.get(f"/matching/runs/{run_id}", headers=cohort.admin)).json()
    assert run["status"] == "completed" and run["progress"] == 1.0
    proposals = await _open_proposals(world, cohort)
    assert len(proposals) == run["results"]["matched"] == run["results"]["proposals_created"] == 6
    assert len({p["mentee_id"] for p in proposals}) == 6
    completions = await eventually(
        lambda: world.events(RUN_TOPIC, str(run_id)), until=len, timeout=10
    )
    assert len(completions) == 1


async def test_a_run_left_running_by_a_stopped_process_is_resumed(world, stack):
    cohort = await world.cohort(mentors=2, mentees=3, capacities=[2], seed=22)
    await world.synced(cohort)
    run_id = await _left_behind(world, cohort, "running")
    settings = settings_for(stack, "matching", MatchingSettings)
    engine = create_engine(settings)
    sweep = asyncio.create_task(
        resume_pending_runs(
            SimpleNamespace(sessionmaker=create_sessionmaker(engine, settings)), every=0.2
        )
    )
    try:
        done = await eventually(
            lambda: world.matching.get(f"/matching/runs/{run_id}", headers=cohort.admin),
            until=lambda r: r.json()["status"] == "completed",
            timeout=30,
        )
    finally:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
        await engine.dispose()
    assert done.json()["results"]["matched"] == 3
    assert len(await _open_proposals(world, cohort)) == 3


async def test_a_run_never_takes_a_place_filled_while_it_was_solving(world, stack):
    """The run's pool is read before solving; a manual proposal made in the meantime wins: the
    run skips the mentor it filled and the mentee it matched, proposes the rest, and emits one
    event per proposal."""
    from trellis_matching import scoring
    from trellis_matching.engine.assignment import Assignment
    from trellis_matching.runs.models import Run
    from trellis_matching.runs.propose import propose_all

    cohort = await world.cohort(mentors=2, mentees=3, capacities=[1], seed=23)
    await world.synced(cohort)
    settings = settings_for(stack, "matching", MatchingSettings)
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine, settings)
        async with sessionmaker() as session, session.begin():
            loaded = await scoring.load_pool(
                session, cohort.org, uuid.UUID(cohort.id), only_unmatched=True
            )
        mentee_ids = [str(p.id) for _, p in loaded.mentees]
        mentor_ids = [str(p.id) for _, p in loaded.mentors]
        taken = await world.matching.post(
            f"/matching/programs/{cohort.id}/proposals",
            json={"mentee": mentee_ids[0], "mentor": mentor_ids[0]},
            headers=cohort.admin,
        )
        assert taken.status_code == 201, taken.text
        # What the solver decided on the stale pool: mentee 0 -> mentor 1 (the mentee is now
        # matched), mentee 1 -> mentor 0 (now full), mentee 2 -> mentor 1 (still free).
        chosen = Assignment(
            mentor_of=np.array([1, 0, 1], np.int32),
            objective=0.0,
            method="optimal",
            status="OPTIMAL",
        )
        run = Run(
            organization_id=cohort.org,
            program_id=uuid.UUID(cohort.id),
            mode="optimal",
            dry_run=False,
        )
        async with sessionmaker() as session, session.begin():
            session.add(run)
            await session.flush()
            created = await propose_all(session, run, loaded, chosen, np.array([0.5, 0.5, 0.5]))
    finally:
        await engine.dispose()
    assert created == 1
    proposals = await _open_proposals(world, cohort)
    by_mentor = {}
    for p in proposals:
        by_mentor.setdefault(p["mentor_id"], []).append(p)
    assert {m: len(ps) for m, ps in by_mentor.items()} == {mentor_ids[0]: 1, mentor_ids[1]: 1}
    [from_run] = [p for p in proposals if p["origin"] == "run"]
    assert (from_run["mentee_id"], from_run["mentor_id"]) == (mentee_ids[2], mentor_ids[1])
    assert from_run["explanation"]
    [event] = await eventually(
        lambda: world.events("trellis.matching.match", from_run["id"]), until=len, timeout=10
    )
    assert event.type == "trellis.matching.match.proposed.v1"
    assert str(event.data.run_id) == str(run.id)
