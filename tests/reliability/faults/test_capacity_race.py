"""Many accepts at once for a mentor's last place, through the gateway to the running services:
the capacity holds, exactly one accept wins, every other gets a 409 problem saying why."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.reliability.conftest import scale
from tests.reliability.faults.cohorts import GOALS, MENTEE, MENTOR, Org, expect
from tests.reliability.faults.conftest import Actor, Retrier, database, group_lag
from trellis_infra.pytest_plugin import eventually

CONTENDERS = scale(16, 50)  # 50 is the most a program lets a mentor take


@pytest.mark.timeout(scale(300, 900))
async def test_racing_accepts_for_the_last_place_through_the_gateway(gateway, platform, figures):
    retrier = Retrier(gateway)
    org = Org(retrier)
    program = await org.program(
        "Last place",
        matching={
            "approval": "two_sided",
            "default_mentor_capacity": 1,
            "max_mentor_capacity": 50,
        },
    )
    mentor = await org.person("Ada Mentor", **MENTOR)
    mentor_enrollment = await org.enroll(
        program["id"], mentor["id"], "mentor", capacity=CONTENDERS, topics=["kubernetes"]
    )
    mentees = [await org.person(f"Mentee {n}", **MENTEE) for n in range(CONTENDERS)]
    for mentee in mentees:
        await org.enroll(program["id"], mentee["id"], "mentee", goals=GOALS)
    # Every mentee asks while the mentor still has room for all of them...
    proposals = [
        await org.request_mentor(program["id"], mentee["id"], mentor["id"], timeout=120)
        for mentee in mentees
    ]
    assert all(proposals), "matching never learnt of the program's people"
    # ...then the mentor cuts their capacity to one and accepts every request at once.
    url = f"/profiles/enrollments/{mentor_enrollment['id']}"
    read = await retrier.send("GET", url, org.admin)
    cut = await retrier.send(
        "PATCH", url, org.admin, json={"capacity": 1}, headers={"If-Match": read.headers["etag"]}
    )
    expect(cut, 200)
    async with database(platform) as db:
        await eventually(
            lambda: db.fetchval(
                "SELECT capacity FROM matching.enrollment_view WHERE id = $1",
                mentor_enrollment["id"],
            ),
            until=lambda capacity: capacity == 1,
            timeout=60,
        )
    # Each accept from a session of its own, so the gateway's per-token rate limit lets every
    # one of them reach matching at the same moment.
    sessions = [Actor.member(org.id, mentor["id"]) for _ in proposals]
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            gateway.post(f"/matching/proposals/{p['id']}/accept", headers=s.headers)
            for p, s in zip(proposals, sessions, strict=True)
        )
    )
    elapsed = time.perf_counter() - started

    codes = sorted(a.status_code for a in answers)
    figures.summary(
        load=f"{CONTENDERS} accepts at once through the gateway",
        faults="a race for a mentor's last place",
        cases=len(answers),
        duplicated=max(0, codes.count(200) - 1),
        errors_5xx=sum(1 for code in codes if code >= 500),
    )
    figures.add("contenders", CONTENDERS)
    figures.add("won (200)", codes.count(200))
    figures.add("refused (409)", codes.count(409))
    figures.add("other answers", len(codes) - codes.count(200) - codes.count(409))
    figures.add("race took", round(elapsed * 1000, 1), "ms")
    assert codes == [200] + [409] * (CONTENDERS - 1), [(a.status_code, a.text) for a in answers]
    [winner] = [a.json() for a in answers if a.status_code == 200]
    assert winner["status"] == "accepted"
    for lost in (a for a in answers if a.status_code == 409):
        assert lost.headers["content-type"].startswith("application/problem+json")
        problem = lost.json()
        assert problem["status"] == 409
        assert problem["detail"] == "The mentor's capacity is already full", problem
        assert problem["type"].endswith("capacity-full"), problem

    async with database(platform) as db:
        accepted = await db.fetch(
            "SELECT id FROM matching.proposal WHERE mentor_id = $1 AND status = 'accepted'",
            mentor["id"],
        )
        assert [str(r["id"]) for r in accepted] == [winner["id"]]
        # The one match became one mentorship, and nothing else did once every consumer is idle.
        await eventually(
            lambda: group_lag(platform), until=lambda lag: not any(lag.values()), timeout=120
        )
        started_for = await db.fetch(
            "SELECT match_id FROM sessions.mentorship WHERE mentor_id = $1", mentor["id"]
        )
    assert [str(r["match_id"]) for r in started_for] == [winner["id"]]
