"""Find the right people, as users do it through the gateway: profiles → matching → profiles and
sessions (the accepted match becomes a connection and a mentorship) → the first meeting, with
every step announced in the people's inboxes."""

import uuid
from datetime import UTC, datetime, timedelta

from trellis_infra.pytest_plugin import bearer, eventually


async def _person(gateway, admin, name, **fields):
    body = {
        "full_name": name,
        "email": f"{uuid.uuid4().hex[:10]}@example.org",
        "languages": ["en"],
        **fields,
    }
    response = await gateway.post("/profiles/people", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_cohort_run_proposes_and_an_accepted_match_connects_and_starts_a_mentorship(
    gateway,
):
    org = uuid.uuid4()
    admin = bearer(org=org, roles=["org_admin"])
    program = await gateway.post(
        "/profiles/programs",
        json={
            "name": "Engineering mentoring",
            "meeting_cadence_days": 7,
            "matching": {"approval": "two_sided"},
        },
        headers=admin,
    )
    assert program.status_code == 201, program.text
    program_id = program.json()["id"]
    mentor = await _person(
        gateway,
        admin,
        "Ada Mentor",
        skills=[{"name": "Kubernetes", "level": "expert"}],
        seniority_level=7,
    )
    mentee = await _person(gateway, admin, "Ben Mentee", seniority_level=2)
    for person, enrollment in (
        (mentor, {"role": "mentor", "capacity": 2, "topics": ["kubernetes", "career"]}),
        (
            mentee,
            {
                "role": "mentee",
                "goals": [{"category": "skills", "description": "learn Kubernetes"}],
            },
        ),
    ):
        response = await gateway.post(
            f"/profiles/programs/{program_id}/enrollments",
            json={"person_id": person["id"], **enrollment},
            headers=admin,
        )
        assert response.status_code == 201, response.text

    async def suggestions():
        response = await gateway.get(
            f"/matching/programs/{program_id}/suggestions",
            headers=bearer(org=org, roles=["member"], sub=mentee["id"]),
        )
        return response.json().get("data", []) if response.status_code == 200 else []

    # Matching's read model is eventually consistent with profiles.
    [suggested] = await eventually(suggestions, until=bool, timeout=60)
    assert suggested["mentor_id"] == mentor["id"]
    assert suggested["factors"]

    run = await gateway.post(
        f"/matching/programs/{program_id}/runs", json={"mode": "optimal"}, headers=admin
    )
    assert run.status_code == 202, run.text

    async def finished():
        return (await gateway.get(f"/matching/runs/{run.json()['id']}", headers=admin)).json()

    results = (await eventually(finished, until=lambda r: r["status"] in ("completed", "failed")))[
        "results"
    ]
    assert results["matched"] == 1 and results["proposals_created"] == 1
    assert results["optimality"]["certificate_verified"] is True

    proposals = await gateway.get(
        "/matching/proposals",
        params={"program": program_id},
        headers=bearer(org=org, roles=["member"], sub=mentee["id"]),
    )
    [proposal] = proposals.json()["data"]
    for person in (mentee, mentor):
        decided = await gateway.post(
            f"/matching/proposals/{proposal['id']}/accept",
            headers=bearer(org=org, roles=["member"], sub=person["id"]),
        )
        assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "accepted"

    async def connections():
        response = await gateway.get(
            f"/profiles/people/{mentee['id']}/connections",
            headers=bearer(org=org, roles=["member"], sub=mentee["id"]),
        )
        return response.json()["data"]

    [connection] = await eventually(connections, until=bool, timeout=60)
    assert mentor["id"] in str(connection)

    async def mentorships():
        response = await gateway.get(
            "/sessions/mentorships", headers=bearer(org=org, roles=["member"], sub=mentor["id"])
        )
        return response.json()["data"]

    [mentorship] = await eventually(mentorships, until=bool, timeout=60)
    assert (mentorship["mentor_id"], mentorship["mentee_id"]) == (mentor["id"], mentee["id"])
    assert mentorship["match_id"] == proposal["id"]
    assert mentorship["match_score"] == proposal["score"]
    assert mentorship["status"] == "active"
    assert mentorship["cadence_days"] == 7
    names = {p["side"]: p["full_name"] for p in mentorship["participants"]}
    assert names == {"mentor": "Ada Mentor", "mentee": "Ben Mentee"}

    # The plan: the mentee books the first meeting in their own zone; both are told, in theirs.
    mentee_headers = bearer(org=org, roles=["member"], sub=mentee["id"])
    start = (datetime.now(UTC) + timedelta(days=7)).replace(hour=15, minute=0, second=0)
    booked = await gateway.post(
        f"/sessions/mentorships/{mentorship['id']}/meetings",
        json={
            "start": start.replace(tzinfo=None).isoformat(),
            "time_zone": "UTC",
            "duration_minutes": 45,
            "mode": "video",
            "location": "https://meet.example.org/ada-ben",
            "agenda": "Goals for the first month",
        },
        headers=mentee_headers,
    )
    assert booked.status_code == 201, booked.text
    meeting = booked.json()
    invite = await gateway.get(f"/sessions/meetings/{meeting['id']}.ics", headers=mentee_headers)
    assert invite.status_code == 200
    assert invite.headers["content-type"].startswith("text/calendar")
    assert f"UID:{meeting['id']}@trellis" in invite.text

    async def mentor_inbox():
        response = await gateway.get(
            "/notifications/inbox", headers=bearer(org=org, roles=["member"], sub=mentor["id"])
        )
        return [item["kind"] for item in response.json()["data"]]

    kinds = await eventually(mentor_inbox, until=lambda k: "meeting_scheduled" in k, timeout=60)
    assert {"welcome", "match_proposed", "match_accepted", "mentorship_started"} <= set(kinds)
