"""The program report on a small known dataset: counts, means, and how the match score relates
to outcomes (Spearman, and a table by match-score quintile), including the small-n cases.

The mentorships and their facts are written as rows, as the other areas store them: a finished
program's history (completed mentorships with evaluations) cannot be replayed through the API in
a test without waiting through its cadence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

NOW = datetime.now(UTC)
# (match score, status, completed meetings, closing ratings)
DATASET = [
    (0.1, "completed", 1, [1]),
    (0.2, "completed", 2, [1]),
    (0.3, "completed", 3, [2]),
    (0.4, "completed", 4, [2]),
    (0.5, "completed", 5, [3]),
    (0.6, "completed", 6, [3]),
    (0.7, "completed", 7, [4]),
    (0.8, "completed", 8, [4]),
    (0.9, "completed", 9, [5]),
    (1.0, "completed", 10, [5, 5]),
    (0.15, "ended", 1, []),
    (0.95, "ended", 0, []),
    (None, "active", 2, []),  # flagged by the health watch (below)
    (None, "paused", 0, []),
]


async def insert(world, table: str, **values) -> uuid.UUID:
    values.setdefault("id", uuid.uuid4())
    columns = ", ".join(values)
    placeholders = ", ".join(f":{k}" for k in values)
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.text(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"), values
        )
    return values["id"]


async def mentorship(world, org, program_id, score, status, held, ratings, at_risk=False):
    mentor, mentee = uuid.uuid4(), uuid.uuid4()
    m = await insert(
        world,
        "mentorship",
        organization_id=org,
        program_id=program_id,
        match_id=uuid.uuid4(),
        mentor_id=mentor,
        mentee_id=mentee,
        match_score=score,
        status=status,
        cadence_days=14,
        meeting_minutes=45,
        started_at=NOW - timedelta(days=200),
        completed_at=NOW - timedelta(days=5) if status == "completed" else None,
        ended_at=NOW - timedelta(days=5) if status == "ended" else None,
        at_risk_since=NOW - timedelta(days=1) if at_risk else None,
        created_at=NOW - timedelta(days=200),
        version=1,
    )
    for k in range(held):
        await meeting(world, org, m, NOW - timedelta(days=14 * (k + 1)), "completed")
    for author, rating in zip((mentee, mentor), ratings, strict=False):
        await insert(
            world,
            "evaluation",
            organization_id=org,
            mentorship_id=m,
            author_id=author,
            side="mentee" if author == mentee else "mentor",
            rating=rating,
            goals_met="partly",
            would_recommend=True,
            created_at=NOW,
        )
    return m, mentor, mentee


async def meeting(world, org, m, starts, status):
    await insert(
        world,
        "meeting",
        organization_id=org,
        mentorship_id=m,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        time_zone="UTC",
        duration_minutes=45,
        mode="video",
        status=status,
        sequence=0,
        created_at=starts - timedelta(days=7),
        version=1,
    )


async def note(world, table, org, m, author, rating, **extra):
    await insert(
        world,
        table,
        organization_id=org,
        mentorship_id=m,
        author_id=author,
        side="mentee",
        rating=rating,
        created_at=NOW,
        **extra,
    )


async def goal(world, org, m, author, status):
    await insert(
        world,
        "goal",
        organization_id=org,
        mentorship_id=m,
        title="Ship a talk",
        status=status,
        progress=100 if status == "completed" else 40,
        created_by=author,
        created_at=NOW - timedelta(days=30),
        version=1,
    )


async def report(world, pair_like, program_id, headers=None):
    return await world.sessions.get(
        f"/sessions/programs/{program_id}/report", headers=headers or pair_like.admin
    )


@pytest.fixture(scope="module")
async def program(world):
    """A program with the known dataset; its admin's and a member's headers."""
    pair = await world.pair(score=None)  # the program, and a mentorship of its own
    org, program_id = pair.org, pair.program_id
    ended = await world.sessions.post(
        f"{pair.url}/end", json={"reason": "Left"}, headers=pair.admin
    )
    assert ended.status_code == 200
    made = [
        await mentorship(world, org, program_id, *row, at_risk=row[1] == "active")
        for row in DATASET
    ]
    top, mentor, mentee = made[9]
    await meeting(world, org, top, NOW - timedelta(days=3), "cancelled")  # not held
    await goal(world, org, top, mentee, "completed")
    await goal(world, org, made[0][0], mentee, "completed")
    await goal(world, org, made[1][0], mentee, "open")
    await goal(world, org, made[2][0], mentee, "dropped")
    await note(world, "feedback", org, top, mentee, 4, visibility="shared")
    await note(world, "feedback", org, top, mentor, 2, visibility="program_admin")
    await note(world, "feedback", org, top, mentee, 1, visibility="private")  # left out
    await note(world, "checkin", org, top, mentee, 3)
    await note(world, "checkin", org, top, mentor, 5)
    return pair


async def test_the_report_counts_and_averages_the_programs_mentorships(world, program):
    response = await report(world, program, program.program_id)
    assert response.status_code == 200, response.text
    r = response.json()
    # The 14 rows of the dataset, and the pair's own mentorship (ended, no meetings).
    assert r["mentorships"] == {
        "active": 1,
        "paused": 1,
        "completed": 10,
        "ended": 3,
        "total": 15,
    }
    assert r["at_risk"] == 1
    assert r["meetings_per_mentorship"] == pytest.approx(58 / 15, abs=1e-4)
    assert r["goals"] == {"total": 3, "completed": 2, "completion_rate": pytest.approx(0.6667)}
    assert r["feedback"] == {"n": 2, "mean_rating": 3.0}
    assert r["closing_evaluations"] == {"n": 11, "mean_rating": pytest.approx(35 / 11, abs=1e-4)}
    assert r["checkins"] == {"n": 2, "mean_rating": 4.0}


async def test_match_score_against_outcomes_by_rank_and_by_quintile(world, program):
    quality = (await report(world, program, program.program_id)).json()["match_quality"]
    closing, health = quality["correlations"]
    # Ratings 1,1,2,2,...,5,5 rise with the scores 0.1..1.0: ties make rho 80/sqrt(82.5 * 80).
    assert closing["outcome"] == "closing_rating" and closing["n"] == 10
    assert closing["rho"] == pytest.approx(80 / (82.5 * 80) ** 0.5, abs=1e-4)
    assert closing["note"] is None
    # No active mentorship carries a match score here: nothing to correlate, and it says so.
    assert (health["outcome"], health["rho"], health["n"]) == ("health_score", None, 0)
    assert health["note"].startswith("Not meaningful: 0 pairs")
    table = [
        (q["quintile"], q["n"], q["score_min"], q["score_max"], q["completion_rate"])
        for q in quality["quintiles"]
    ]
    assert table == [
        (1, 3, 0.1, 0.2, pytest.approx(0.6667)),
        (2, 2, 0.3, 0.4, 1.0),
        (3, 3, 0.5, 0.7, 1.0),
        (4, 2, 0.8, 0.9, 1.0),
        (5, 2, 0.95, 1.0, 0.5),
    ]
    ratings = [q["mean_rating"] for q in quality["quintiles"]]
    assert ratings == [1.0, 2.0, pytest.approx(3.3333), 4.5, 5.0]
    meetings = [q["mean_meetings"] for q in quality["quintiles"]]
    assert meetings == [pytest.approx(1.3333), 3.5, 6.0, 8.5, 5.0]


async def test_a_small_program_gives_no_correlation_and_an_empty_one_no_division(world):
    pair = await world.pair(score=None)
    await world.sessions.post(f"{pair.url}/end", json={"reason": "Left"}, headers=pair.admin)
    for score, rating in ((0.2, 2), (0.5, 4), (0.9, 5)):
        await mentorship(world, pair.org, pair.program_id, score, "completed", 1, [rating])
    quality = (await report(world, pair, pair.program_id)).json()["match_quality"]
    closing = quality["correlations"][0]
    assert (closing["rho"], closing["n"]) == (None, 3)
    assert closing["note"] == "Not meaningful: 3 pairs (at least 10 needed)"
    assert [q["n"] for q in quality["quintiles"]] == [1, 1, 0, 1, 0]
    assert quality["quintiles"][2]["mean_rating"] is None
    assert quality["quintiles"][2]["completion_rate"] is None

    empty_program = await world.program(pair.org)
    empty = (await report(world, pair, empty_program)).json()
    assert empty["mentorships"]["total"] == 0
    assert empty["meetings_per_mentorship"] is None
    assert empty["goals"]["completion_rate"] is None
    assert empty["closing_evaluations"] == {"n": 0, "mean_rating": None}
    assert all(c["rho"] is None for c in empty["match_quality"]["correlations"])


async def test_only_the_organizations_admins_read_a_report(world, program):
    as_member = await report(world, program, program.program_id, headers=program.mentor)
    assert as_member.status_code == 403
    elsewhere = await report(world, program, program.program_id, headers=program.other_org_admin)
    assert elsewhere.status_code == 404
    unknown = await report(world, program, uuid.uuid4())
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
