"""Proposals: mentee requests, manual proposals, each side's decision, and the capacity race.

Profiles and matching run in-process against the real Postgres and Kafka; what a test sees is what
a user would see through the API, plus the events other services consume.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from trellis_infra.pytest_plugin import bearer, eventually

MATCH_TOPIC = "trellis.matching.match"
ACCEPTED = "trellis.matching.match.accepted.v1"
DECLINED = "trellis.matching.match.declined.v1"
PROPOSED = "trellis.matching.match.proposed.v1"


async def _request(world, cohort, mentee, mentor):
    return await world.matching.post(
        f"/matching/programs/{cohort.id}/requests",
        json={"mentor": mentor.id},
        headers=cohort.as_(mentee),
    )


async def _propose(world, cohort, mentee, mentor, headers=None):
    """An org admin (or `headers`) proposes a pair; mentee and mentor are members or ids."""
    return await world.matching.post(
        f"/matching/programs/{cohort.id}/proposals",
        json={"mentee": getattr(mentee, "id", mentee), "mentor": getattr(mentor, "id", mentor)},
        headers=headers or cohort.admin,
    )


async def _decide(world, cohort, proposal_id: str, who, verb: str, **body):
    """`who` (a member, or ready-made headers) accepts or declines."""
    headers = who if isinstance(who, dict) else cohort.as_(who)
    return await world.matching.post(
        f"/matching/proposals/{proposal_id}/{verb}", json=body or None, headers=headers
    )


def _fields(problem: dict) -> list[str]:
    return [e["field"] for e in problem.get("errors", [])]


async def test_a_mentees_request_becomes_a_match_when_the_mentor_accepts(world):
    cohort = await world.cohort(mentors=2, mentees=1, capacities=[2])
    mentor, [mentee] = cohort.mentors[0], cohort.mentees

    requested = await _request(world, cohort, mentee, mentor)

    assert requested.status_code == 201, requested.text
    proposal = requested.json()
    assert requested.headers["location"] == f"/matching/proposals/{proposal['id']}"
    assert (proposal["mentee_id"], proposal["mentor_id"]) == (mentee.id, mentor.id)
    assert (proposal["origin"], proposal["status"]) == ("request", "proposed")
    assert proposal["mentee_accepted_at"] is not None
    assert proposal["mentor_accepted_at"] is None
    assert 0 <= proposal["score"] <= 1
    factors = {f["factor"]: f for f in proposal["explanation"]}
    assert {"skills", "language", "availability"} <= factors.keys()
    assert all(0 <= f["value"] <= 1 and f["weight"] >= 0 for f in factors.values())
    assert factors["language"]["reasons"], "a shared language is explained"

    # The mentor finds it among their proposals and says yes: the match is made.
    mine = await world.matching.get(
        "/matching/proposals", params={"status": "proposed"}, headers=cohort.as_(mentor)
    )
    assert [p["id"] for p in mine.json()["data"]] == [proposal["id"]]
    accepted = await _decide(world, cohort, proposal["id"], mentor, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["mentor_accepted_at"] is not None
    assert accepted.json()["decided_at"] is not None
    read = await world.matching.get(
        f"/matching/proposals/{proposal['id']}", headers=cohort.as_(mentee)
    )
    assert read.json()["status"] == "accepted"

    events = await eventually(
        lambda: world.events(MATCH_TOPIC, proposal["id"]),
        until=lambda es: ACCEPTED in [e.type for e in es],
    )
    assert [e.type for e in events] == [PROPOSED, ACCEPTED]
    match = events[1]
    assert match.tenant == cohort.org
    assert (str(match.data.mentor_id), str(match.data.mentee_id)) == (mentor.id, mentee.id)
    assert str(match.data.program_id) == cohort.id

    # Profiles hears of it and connects the two.
    connections = await eventually(
        lambda: world.profiles.get(
            f"/profiles/people/{mentee.id}/connections", headers=cohort.as_(mentee)
        ),
        until=lambda r: r.status_code == 200 and r.json()["data"],
    )
    [connection] = connections.json()["data"]
    assert connection["person"]["id"] == mentor.id
    assert (connection["origin"], connection["source_id"]) == ("mentorship", proposal["id"])

    again = await _decide(world, cohort, proposal["id"], mentor, "accept")
    assert again.status_code == 409, again.text
    late_no = await _decide(world, cohort, proposal["id"], mentee, "decline")
    assert late_no.status_code == 409, late_no.text


async def test_two_sided_approval_waits_for_both_sides_mentor_only_for_the_mentor(world):
    cohort = await world.cohort(mentors=1, mentees=2, capacities=[3])
    [mentor], [first, second] = cohort.mentors, cohort.mentees
    assert cohort.program["matching"]["approval"] == "two_sided"

    proposal = (await _propose(world, cohort, first, mentor)).json()
    assert (proposal["origin"], proposal["status"]) == ("manual", "proposed")
    assert proposal["mentee_accepted_at"] is None and proposal["mentor_accepted_at"] is None
    by_mentor = await _decide(world, cohort, proposal["id"], mentor, "accept")
    assert by_mentor.status_code == 200, by_mentor.text
    assert by_mentor.json()["status"] == "proposed"
    assert by_mentor.json()["mentor_accepted_at"] is not None
    by_mentee = await _decide(world, cohort, proposal["id"], first, "accept")
    assert by_mentee.json()["status"] == "accepted"

    await world.set_matching(cohort, approval="mentor_only")
    other = (await _propose(world, cohort, second, mentor)).json()
    alone = await _decide(world, cohort, other["id"], mentor, "accept")
    assert alone.status_code == 200, alone.text
    assert alone.json()["status"] == "accepted"
    assert alone.json()["mentee_accepted_at"] is None
    events = await eventually(
        lambda: world.events(MATCH_TOPIC, other["id"]),
        until=lambda es: ACCEPTED in [e.type for e in es],
    )
    assert [e.type for e in events] == [PROPOSED, ACCEPTED]


async def test_only_the_two_sides_see_and_decide_a_proposal(world):
    cohort = await world.cohort(mentors=2, mentees=2, capacities=[2])
    mentor, other_mentor = cohort.mentors
    mentee, other_mentee = cohort.mentees
    proposal = (await _propose(world, cohort, mentee, mentor)).json()
    url = f"/matching/proposals/{proposal['id']}"

    for outsider in (other_mentor, other_mentee):
        assert (await world.matching.get(url, headers=cohort.as_(outsider))).status_code == 404
        for verb in ("accept", "decline"):
            response = await _decide(world, cohort, proposal["id"], outsider, verb)
            assert response.status_code == 404, (verb, response.text)
    # An org admin sees every proposal but decides for nobody.
    assert (await world.matching.get(url, headers=cohort.admin)).status_code == 200
    by_admin = await _decide(world, cohort, proposal["id"], cohort.admin, "accept")
    assert by_admin.status_code == 404, by_admin.text
    # Another organization does not see it at all.
    stranger = bearer(org=uuid.uuid4(), roles=["org_admin"])
    assert (await world.matching.get(url, headers=stranger)).status_code == 404
    assert (await _decide(world, cohort, proposal["id"], stranger, "decline")).status_code == 404

    still = await world.matching.get(url, headers=cohort.as_(mentee))
    assert still.status_code == 200
    assert still.json()["status"] == "proposed"
    assert still.json()["mentee_accepted_at"] is None and still.json()["mentor_accepted_at"] is None


async def test_a_declined_pair_is_never_proposed_again(world):
    cohort = await world.cohort(mentors=1, mentees=1, capacities=[3])
    [mentor], [mentee] = cohort.mentors, cohort.mentees
    proposal = (await _propose(world, cohort, mentee, mentor)).json()

    declined = await _decide(
        world, cohort, proposal["id"], mentee, "decline", reason="Looking for a data mentor"
    )

    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert (body["status"], body["declined_by"]) == ("declined", "mentee")
    assert body["decline_reason"] == "Looking for a data mentor"
    events = await eventually(
        lambda: world.events(MATCH_TOPIC, proposal["id"]),
        until=lambda es: DECLINED in [e.type for e in es],
    )
    assert events[-1].data.declined_by == "mentee"
    assert events[-1].data.reason == "Looking for a data mentor"

    manual = await _propose(world, cohort, mentee, mentor)
    requested = await _request(world, cohort, mentee, mentor)
    accept_closed = await _decide(world, cohort, proposal["id"], mentor, "accept")
    assert manual.status_code == 409, manual.text
    assert "declined" in manual.json()["detail"]
    assert requested.status_code == 409, requested.text
    assert accept_closed.status_code == 409, accept_closed.text
    assert [p["status"] for p in await world.proposals(cohort)] == ["declined"]


async def test_a_manual_proposal_checks_roles_capacity_and_hard_constraints(world):
    cohort = await world.cohort(mentors=2, mentees=3, capacities=[1, 3])
    full_mentor, mentor = cohort.mentors
    mentee, busy_mentee, other_mentee = cohort.mentees
    # An English-only mentee, a mentor who speaks only Japanese, and the mentee's own manager.
    monolingual = await world.mentee(cohort, languages=["en"], full_name="Lea English")
    japanese = await world.mentor(
        cohort, capacity=2, languages=["ja"], time_zone="Asia/Tokyo", full_name="Jun Japanese"
    )
    boss = await world.mentor(cohort, capacity=2, full_name="Bea Boss")
    report = await world.mentee(cohort, manager_id=boss.id, full_name="Ray Report")
    await world.synced(cohort)
    assert (await _propose(world, cohort, busy_mentee, full_mentor)).status_code == 201

    cases = {
        "mentee not enrolled as mentee": (mentor.id, mentor.id, "body.mentee"),
        "mentor not enrolled as mentor": (mentee.id, other_mentee.id, "body.mentor"),
        "mentor unknown": (mentee.id, str(uuid.uuid4()), "body.mentor"),
        "mentor without free capacity": (mentee.id, full_mentor.id, "body.mentor"),
        "no shared language": (monolingual.id, japanese.id, "body.mentor"),
        "reporting line": (report.id, boss.id, "body.mentor"),
    }
    for case, (mentee_id, mentor_id, field) in cases.items():
        response = await _propose(world, cohort, mentee_id, mentor_id)
        assert response.status_code == 422, (case, response.text)
        assert field in _fields(response.json()), (case, response.json())
    language = await _propose(world, cohort, monolingual, japanese)
    assert "language" in language.json()["detail"].lower(), language.json()
    capacity = await _propose(world, cohort, mentee, full_mentor)
    assert "capacity" in capacity.json()["detail"].lower(), capacity.json()
    reporting = await _propose(world, cohort, report, boss)
    assert "report" in reporting.json()["detail"].lower(), reporting.json()

    # Members do not propose pairs, and the refusals left nothing behind.
    by_member = await _propose(world, cohort, mentee, mentor, headers=cohort.as_(mentee))
    assert by_member.status_code == 403, by_member.text
    assert [(p["mentee_id"], p["mentor_id"]) for p in await world.proposals(cohort)] == [
        (busy_mentee.id, full_mentor.id)
    ]


async def test_a_program_setting_constraint_refuses_the_pair_with_its_reason(world):
    cohort = await world.program(uuid.uuid4())
    mentor = await world.mentor(cohort, capacity=2, seniority_level=5)
    peer = await world.mentee(cohort, seniority_level=4)
    junior = await world.mentee(cohort, seniority_level=1)
    await world.synced(cohort)
    await world.set_matching(cohort, constraints={"min_seniority_gap": 3})

    refused = await _propose(world, cohort, peer, mentor)
    allowed = await _propose(world, cohort, junior, mentor)

    assert refused.status_code == 422, refused.text
    assert "body.mentor" in _fields(refused.json())
    assert "senior" in refused.json()["detail"].lower(), refused.json()
    assert allowed.status_code == 201, allowed.text


async def test_the_same_open_pair_twice_is_a_409(world):
    cohort = await world.cohort(mentors=1, mentees=1, capacities=[3])
    [mentor], [mentee] = cohort.mentors, cohort.mentees

    first = await _propose(world, cohort, mentee, mentor)
    again = await _propose(world, cohort, mentee, mentor)
    requested = await _request(world, cohort, mentee, mentor)

    assert first.status_code == 201, first.text
    assert again.status_code == 409, again.text
    assert requested.status_code == 409, requested.text
    assert len(await world.proposals(cohort)) == 1


async def test_members_list_their_own_proposals_and_admins_all(world):
    cohort = await world.cohort(mentors=2, mentees=3, capacities=[3])
    ana, ben = cohort.mentors
    cy, di, ed = cohort.mentees
    p1 = (await _propose(world, cohort, cy, ana)).json()
    p2 = (await _propose(world, cohort, di, ana)).json()
    p3 = (await _request(world, cohort, ed, ben)).json()
    await _decide(world, cohort, p2["id"], di, "decline")
    elsewhere = await world.program(cohort.org, name="Returners")
    lone_mentor = await world.mentor(elsewhere, capacity=1)
    await world.enroll(elsewhere, cy.person, "mentee")
    await world.synced(elsewhere)
    p4 = (await _propose(world, elsewhere, cy.id, lone_mentor.id)).json()

    async def ids(headers, **params) -> set[str]:
        response = await world.matching.get("/matching/proposals", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["data"]}

    assert await ids(cohort.as_(ana)) == {p1["id"], p2["id"]}
    assert await ids(cohort.as_(ana), status="proposed") == {p1["id"]}
    assert await ids(cohort.as_(cy)) == {p1["id"], p4["id"]}
    assert await ids(cohort.as_(cy), program=cohort.id) == {p1["id"]}
    assert await ids(cohort.as_(ed)) == {p3["id"]}
    assert await ids(cohort.admin) == {p1["id"], p2["id"], p3["id"], p4["id"]}
    assert await ids(cohort.admin, program=cohort.id, status="declined") == {p2["id"]}
    assert await ids(cohort.admin, person=ben.id) == {p3["id"]}
    assert await ids(bearer(org=uuid.uuid4(), roles=["org_admin"])) == set()
    # A member asking for someone else's proposals learns nothing about them.
    peek = await world.matching.get(
        "/matching/proposals", params={"person": ana.id}, headers=cohort.as_(ed)
    )
    assert peek.status_code in (403, 404) or peek.json()["data"] == [], peek.text


async def test_racing_accepts_for_the_last_slot_give_exactly_one_match(world):
    cohort = await world.cohort(mentors=1, mentees=8, capacities=[8])
    [mentor] = cohort.mentors
    # Eight requests while the mentor still had room; each is already accepted by its mentee.
    proposals = []
    for mentee in cohort.mentees:
        response = await _request(world, cohort, mentee, mentor)
        assert response.status_code == 201, response.text
        proposals.append(response.json()["id"])
    # Then the mentor cuts their capacity to one, and accepts all eight at once.
    await world.set_capacity(cohort, mentor, 1)

    answers = await asyncio.gather(
        *(_decide(world, cohort, p, mentor, "accept") for p in proposals)
    )

    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 7, [(a.status_code, a.text) for a in answers]
    [winner] = [a.json() for a in answers if a.status_code == 200]
    assert winner["status"] == "accepted"
    accepted = await world.rows(
        "SELECT id FROM proposal WHERE mentor_id = :m AND status = 'accepted'", m=mentor.id
    )
    assert [str(r["id"]) for r in accepted] == [winner["id"]]
    listed = await world.matching.get(
        "/matching/proposals", params={"status": "accepted"}, headers=cohort.as_(mentor)
    )
    assert [p["id"] for p in listed.json()["data"]] == [winner["id"]]


@pytest.mark.parametrize("leaving", ["mentee withdraws", "mentor withdraws", "mentee erased"])
async def test_leaving_the_program_withdraws_the_open_proposals(world, leaving: str):
    cohort = await world.cohort(mentors=1, mentees=2, capacities=[3])
    [mentor], [mentee, other] = cohort.mentors, cohort.mentees
    open_one = (await _propose(world, cohort, mentee, mentor)).json()
    others = (await _propose(world, cohort, other, mentor)).json()

    if leaving == "mentee erased":
        gone = await world.profiles.delete(f"/profiles/people/{mentee.id}", headers=cohort.admin)
        assert gone.status_code == 204, gone.text
    else:
        who = mentee if leaving == "mentee withdraws" else mentor
        left = await world.profiles.post(
            f"/profiles/enrollments/{who.enrollment['id']}/withdraw", headers=cohort.as_(who)
        )
        assert left.status_code == 200, left.text

    async def status(proposal_id: str) -> str:
        read = await world.matching.get(f"/matching/proposals/{proposal_id}", headers=cohort.admin)
        return read.json()["status"]

    await eventually(lambda: status(open_one["id"]), until=lambda s: s == "withdrawn")
    expected_other = "withdrawn" if leaving == "mentor withdraws" else "proposed"
    assert await status(others["id"]) == expected_other
    # The proposal is closed: deciding it now is a conflict, not a validation error.
    closed = await _decide(world, cohort, open_one["id"], mentor, "accept")
    assert closed.status_code == 409, closed.text


async def test_another_organizations_program_is_not_found(world):
    cohort = await world.cohort(mentors=1, mentees=1, capacities=[2])
    [mentor], [mentee] = cohort.mentors, cohort.mentees
    stranger = bearer(org=uuid.uuid4(), roles=["org_admin"])

    foreign = await _propose(world, cohort, mentee, mentor, headers=stranger)

    assert foreign.status_code == 404, foreign.text
    assert await world.proposals(cohort) == []
