"""Self-service suggestions: a mentee's best mentors with free places, every score explained."""

from __future__ import annotations

import uuid

import pytest

from trellis_infra.pytest_plugin import bearer, eventually

EVENINGS = [{"weekday": d, "start": "18:00", "end": "20:00"} for d in range(3)]
EARLY_MORNINGS = [{"weekday": d, "start": "05:00", "end": "06:00"} for d in range(3)]


async def _suggest(world, cohort, mentee, headers=None, **params):
    return await world.matching.get(
        f"/matching/programs/{cohort.id}/suggestions",
        params={"mentee": getattr(mentee, "id", mentee), **params},
        headers=headers or cohort.as_(mentee),
    )


def _weighted_mean(factors: list[dict]) -> float:
    weight = sum(f["weight"] for f in factors)
    return sum(f["weight"] * f["value"] for f in factors) / weight if weight else 0.0


async def test_a_mentee_sees_every_fitting_mentor_ranked_and_explained(world):
    cohort = await world.cohort(mentors=6, mentees=3, capacities=[1, 2, 3], seed=21)
    mentee = cohort.mentees[0]
    names = {m.id: m.name for m in cohort.mentors}

    response = await _suggest(world, cohort, mentee)

    assert response.status_code == 200, response.text
    suggestions = response.json()["data"]
    assert {s["mentor_id"] for s in suggestions} == set(names)
    assert all(s["full_name"] == names[s["mentor_id"]] for s in suggestions)
    scores = [s["score"] for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)
    capacities = {m.id: m.enrollment["capacity"] for m in cohort.mentors}
    assert all(s["free_capacity"] == capacities[s["mentor_id"]] for s in suggestions)
    for s in suggestions:
        factors = s["factors"]
        assert {"skills", "goals", "availability", "language", "time_zone"} <= {
            f["factor"] for f in factors
        }
        assert all(0 <= f["value"] <= 1 and f["weight"] >= 0 for f in factors)
        assert all(isinstance(r, str) and r for f in factors for r in f["reasons"])
        # The score is what its factors say it is: their weighted mean.
        counted = [f for f in factors if f["weight"] > 0]
        assert s["score"] == pytest.approx(_weighted_mean(counted), abs=1e-3), s

    top = await _suggest(world, cohort, mentee, limit=2)
    assert [s["mentor_id"] for s in top.json()["data"]] == [s["mentor_id"] for s in suggestions[:2]]


async def test_the_mentor_who_fits_the_goals_comes_first_and_says_why(world):
    cohort = await world.program(uuid.uuid4())
    mentee = await world.mentee(
        cohort,
        time_zone="Europe/Madrid",
        languages=["es", "en"],
        seniority_level=2,
        availability=EVENINGS,
        goals=[{"category": "skills", "description": "Run Kubernetes in production"}],
    )
    ideal = await world.mentor(
        cohort,
        capacity=2,
        full_name="Ideal Fit",
        time_zone="Europe/Madrid",
        languages=["es", "en"],
        skills=[{"name": "Kubernetes", "level": "expert"}],
        seniority_level=5,
        availability=EVENINGS,
    )
    distant = await world.mentor(
        cohort,
        capacity=2,
        full_name="Far Away",
        time_zone="Pacific/Auckland",
        languages=["en"],
        skills=[{"name": "Negotiation", "level": "expert"}],
        seniority_level=10,
        availability=EARLY_MORNINGS,
    )
    await world.synced(cohort)

    suggestions = (await _suggest(world, cohort, mentee)).json()["data"]

    assert [s["mentor_id"] for s in suggestions] == [ideal.id, distant.id]
    best, worst = ({f["factor"]: f for f in s["factors"]} for s in suggestions)
    for factor in ("skills", "availability", "time_zone"):
        assert best[factor]["value"] > worst[factor]["value"], factor
    assert best["language"]["value"] >= worst["language"]["value"]
    assert all(best[factor]["reasons"] for factor in best)
    assert any("kubernetes" in r.lower() for r in best["skills"]["reasons"]), best["skills"]
    assert any("spanish" in r.lower() for r in best["language"]["reasons"])
    assert any("h" in r for r in best["availability"]["reasons"])


async def test_full_mentors_and_forbidden_pairs_are_never_suggested(world):
    cohort = await world.program(uuid.uuid4())
    boss = await world.mentor(cohort, capacity=2, full_name="The Boss")
    mentee = await world.mentee(cohort, languages=["en"], manager_id=boss.id)
    japanese = await world.mentor(
        cohort, capacity=2, full_name="Japanese Only", languages=["ja"], time_zone="Asia/Tokyo"
    )
    full = await world.mentor(cohort, capacity=1, full_name="Full Mentor")
    busy = await world.mentor(cohort, capacity=2, full_name="Half Busy")
    declined = await world.mentor(cohort, capacity=2, full_name="Declined Before")
    free = await world.mentor(cohort, capacity=2, full_name="Free Mentor")
    other = await world.mentee(cohort, full_name="Other Mentee")
    # The mentee also mentors in the same program: they are never their own suggestion.
    await world.enroll(cohort, mentee.person, "mentor", capacity=2)
    await world.synced(cohort)

    async def propose(mentee_id, mentor_id) -> dict:
        response = await world.matching.post(
            f"/matching/programs/{cohort.id}/proposals",
            json={"mentee": mentee_id, "mentor": mentor_id},
            headers=cohort.admin,
        )
        assert response.status_code == 201, response.text
        return response.json()

    await propose(other.id, full.id)
    await propose(other.id, busy.id)
    refused = await propose(mentee.id, declined.id)
    no = await world.matching.post(
        f"/matching/proposals/{refused['id']}/decline", json={}, headers=cohort.as_(declined)
    )
    assert no.status_code == 200, no.text

    suggestions = (await _suggest(world, cohort, mentee)).json()["data"]

    offered = {s["full_name"]: s["free_capacity"] for s in suggestions}
    assert offered == {busy.name: 1, free.name: 2}
    left_out = (boss, japanese, full, declined, mentee)
    assert {m.id for m in left_out}.isdisjoint(s["mentor_id"] for s in suggestions)


async def test_suggestions_are_for_the_mentee_and_admins_only(world):
    cohort = await world.cohort(mentors=2, mentees=2, capacities=[2], seed=4)
    mentee, other = cohort.mentees
    mentor = cohort.mentors[0]

    own = await _suggest(world, cohort, mentee)
    implicit = await world.matching.get(
        f"/matching/programs/{cohort.id}/suggestions", headers=cohort.as_(mentee)
    )
    by_admin = await _suggest(world, cohort, mentee, headers=cohort.admin)
    by_other = await _suggest(world, cohort, mentee, headers=cohort.as_(other))
    for_a_mentor = await _suggest(world, cohort, mentor, headers=cohort.admin)
    foreign = await _suggest(
        world, cohort, mentee, headers=bearer(org=uuid.uuid4(), roles=["org_admin"])
    )
    nowhere = await world.matching.get(
        f"/matching/programs/{uuid.uuid4()}/suggestions",
        params={"mentee": mentee.id},
        headers=cohort.admin,
    )

    assert own.status_code == 200, own.text
    assert own.json()["data"]
    assert implicit.json() == own.json()
    assert by_admin.json() == own.json()
    assert by_other.status_code == 403, by_other.text
    assert for_a_mentor.status_code == 422, for_a_mentor.text
    assert "query.mentee" in [e["field"] for e in for_a_mentor.json()["errors"]]
    assert foreign.status_code == 404, foreign.text
    assert nowhere.status_code == 404, nowhere.text


async def test_profile_changes_reach_the_suggestions(world):
    cohort = await world.program(uuid.uuid4())
    mentee = await world.mentee(
        cohort, goals=[{"category": "skills", "description": "Learn Rust for embedded work"}]
    )
    # Three mentors alike in everything but their names: nobody leads before the changes.
    mentors = [
        await world.mentor(cohort, capacity=2, seed=99, full_name=f"Mentor {n}") for n in range(3)
    ]
    await world.synced(cohort)
    before = (await _suggest(world, cohort, mentee)).json()["data"]
    assert len(before) == 3
    assert len({s["score"] for s in before}) == 1
    leaver = before[0]["mentor_id"]
    learner = next(m.id for m in mentors if m.id != leaver)

    async def change(person_id: str, **fields) -> None:
        read = await world.profiles.get(f"/profiles/people/{person_id}", headers=cohort.admin)
        patched = await world.profiles.patch(
            f"/profiles/people/{person_id}",
            json=fields,
            headers=cohort.admin | {"If-Match": read.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text

    # One mentor learns Rust; another stops speaking any language the mentee speaks.
    await change(learner, skills=[{"name": "Rust", "level": "expert"}])
    await change(leaver, languages=["ja"])

    after = await eventually(
        lambda: _suggest(world, cohort, mentee),
        until=lambda r: len(r.json()["data"]) == 2 and r.json()["data"][0]["mentor_id"] == learner,
    )
    first, second = after.json()["data"]
    assert first["score"] > second["score"]
    skills = {
        s["mentor_id"]: f for s in (first, second) for f in s["factors"] if f["factor"] == "skills"
    }
    assert skills[learner]["value"] > skills[second["mentor_id"]]["value"]
    assert any("rust" in r.lower() for r in skills[learner]["reasons"]), skills[learner]
