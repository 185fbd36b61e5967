"""The whole mentorship journey through the gateway, every service a process: org → programs →
bulk import → optimal run → accept → mentorship → agreement → recurring meeting → reminder →
feedback → at-risk nudge → completion → program report, with a partner's webhook receiving every
event of the organization, signed, once; and the import's trace across the services."""

import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from trellis_infra.pytest_plugin import bearer, eventually
from trellis_shared import tracefile
from trellis_shared.cli import app as cli
from trellis_shared.contracts import profiles as p
from trellis_shared.events import MalformedEvent, from_kafka, registered_contracts
from trellis_shared.kafka import read_topic

ZONE = "America/New_York"  # observes DST, so a weekly series must keep its wall time
HEADER = [
    "external_id", "full_name", "email", "time_zone", "languages", "skills", "seniority_level",
    "program_id", "role", "capacity", "topics", "goals",
]  # fmt: skip


def _row(n, name, program, role, **cells):
    return {
        "external_id": f"J{n:03d}",
        "full_name": name,
        "email": f"j{n}.{uuid.uuid4().hex[:6]}@example.org",
        "time_zone": ZONE,
        "languages": "en",
        "program_id": program,
        "role": role,
        **cells,
    }


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


class Journey:
    """The gateway client and the organization's people, each with their own token (the gateway
    limits requests per token)."""

    def __init__(self, gateway, org):
        self.http, self.org = gateway, org
        self.admin = bearer(org=org, roles=["org_admin"])
        self.people: dict[str, dict] = {}

    def as_(self, name):
        return bearer(org=self.org, roles=["member"], sub=self.people[name]["id"])

    async def ok(self, method, url, status=200, headers=None, **kwargs):
        response = await self.http.request(method, url, headers=headers or self.admin, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.text}"
        return response.json() if response.content else None

    async def program(self, name, **fields):
        body = {"name": name, "matching": {"approval": "two_sided"}, **fields}
        return (await self.ok("POST", "/profiles/programs", 201, json=body))["id"]

    async def inbox_kinds(self, name):
        found = await self.ok("GET", "/notifications/inbox", headers=self.as_(name))
        return [item["kind"] for item in found["data"]]

    async def matched(self, program, mentee):
        """An optimal run, then both sides accept the mentee's proposal: the mentorship, the
        run and the mentor's name."""
        run = await self.ok(
            "POST", f"/matching/programs/{program}/runs", 202, json={"mode": "optimal"}
        )
        done = await eventually(
            lambda: self.ok("GET", f"/matching/runs/{run['id']}"),
            until=lambda r: r["status"] in ("completed", "failed"),
            timeout=120,
        )
        assert done["status"] == "completed", done
        assert done["results"]["optimality"]["certificate_verified"] is True
        found = await self.ok(
            "GET", "/matching/proposals", params={"program": program}, headers=self.as_(mentee)
        )
        [proposal] = found["data"]
        [mentor] = [n for n, x in self.people.items() if x["id"] == proposal["mentor_id"]]
        for name in (mentee, mentor):
            decided = await self.ok(
                "POST", f"/matching/proposals/{proposal['id']}/accept", headers=self.as_(name)
            )
        assert decided["status"] == "accepted"
        started = await eventually(
            lambda: self.ok("GET", "/sessions/mentorships", headers=self.as_(mentee)),
            until=lambda m: any(x["program_id"] == program for x in m["data"]),
            timeout=120,
        )
        [mentorship] = [m for m in started["data"] if m["program_id"] == program]
        assert mentorship["match_id"] == proposal["id"] and mentorship["status"] == "active"
        return mentorship, done, mentor


async def _tenant_events(stack, org):
    """Every event of the organization now in Kafka, by id."""
    topics = sorted({c.topic() for c in registered_contracts().values()})
    found = {}
    for topic in topics:
        for record in await read_topic(stack.kafka_bootstrap, topic):
            try:
                event = from_kafka(record.headers, record.key, record.value)
            except MalformedEvent:
                continue  # other tests' poison messages share the topics in a full run
            if event.tenant == org:
                found[str(event.id)] = event.type
    return found


async def test_the_whole_mentorship_journey_through_the_gateway(gateway, platform, receiver):
    created = await gateway.post(
        "/profiles/organizations",
        json={"name": f"Alumni {uuid.uuid4().hex[:6]}"},
        headers=bearer(org=uuid.uuid4(), roles=["platform_admin"]),
    )
    assert created.status_code == 201, created.text
    org = uuid.UUID(created.json()["id"])
    j = Journey(gateway, org)

    # The partner subscribes first, to every event type a partner may take.
    offered = sorted(t for t in registered_contracts() if not t.startswith("trellis.notifications"))
    hook = await j.ok(
        "POST",
        "/notifications/webhooks",
        201,
        json={"url": receiver.url, "event_types": offered, "description": "journey"},
    )
    receiver.secret = hook["secret"]

    alumni = await j.program("Alumni mentoring", meeting_cadence_days=7)
    # Any score is below 100: this program's mentorship drifts into at-risk at the first sweep.
    watched = await j.program("Watched pilot", meeting_cadence_days=7, health_threshold=100)
    mentor = {"role": "mentor", "capacity": "2", "skills": "python:expert", "seniority_level": "8"}
    mentee = {"role": "mentee", "goals": "skills:Learn Python", "seniority_level": "2"}
    rows = [
        _row(1, "Ada Mentor", alumni, **mentor, topics="python;career"),
        _row(2, "Grace Mentor", alumni, **mentor, topics="leadership"),
        _row(3, "Ben Mentee", alumni, **mentee),
        _row(4, "Cleo Mentee", alumni, **mentee),
        _row(5, "Dan Mentee", alumni, **mentee),
        _row(6, "Eve Mentor", watched, **mentor),
        _row(7, "Finn Mentee", watched, **mentee),
    ]
    trace_id = secrets.token_hex(16)
    job = await j.ok(
        "POST",
        "/profiles/imports",
        202,
        content=_csv(rows),
        headers=j.admin
        | {"content-type": "text/csv", "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    job = await eventually(
        lambda: j.ok("GET", f"/profiles/imports/{job['id']}"),
        until=lambda x: x["status"] in ("completed", "failed"),
        timeout=120,
    )
    assert (job["status"], job["created"], job["failed_rows"]) == ("completed", 7, 0), job
    assert job["enrollments_created"] == 7
    people = await j.ok("GET", "/profiles/people", params={"limit": 200})
    j.people = {person["full_name"]: person for person in people["data"]}
    assert len(j.people) == 7

    # The import's trace: profiles' request, then matching and notifications consuming its events.
    traces = platform.config.state_dir / "traces"

    async def services_seen():
        spans = tracefile.read_spans(sorted(traces.glob("*.jsonl")), trace_id)
        return {s.service.removeprefix("trellis-") for s in spans}

    await eventually(
        services_seen, until=lambda s: {"profiles", "matching", "notifications"} <= s, timeout=120
    )
    shown = CliRunner().invoke(cli, ["trace", trace_id, "--dir", str(traces)])
    assert shown.exit_code == 0, shown.output
    assert "POST /profiles/imports" in shown.output

    # Matching's read model catches up with the import before a run can see everyone.
    await eventually(
        lambda: j.ok(
            "GET",
            f"/matching/programs/{alumni}/suggestions",
            params={"mentee": j.people["Ben Mentee"]["id"]},
        ),
        until=lambda s: len(s["data"]) == 2,
        timeout=120,
    )
    ours, run, mentor_name = await j.matched(alumni, "Ben Mentee")
    assert run["results"]["matched"] == 3 and run["results"]["proposals_created"] == 3
    assert ours["cadence_days"] == 7
    ms = f"/sessions/mentorships/{ours['id']}"
    ben, ada = j.as_("Ben Mentee"), j.as_(mentor_name)

    # The agreement: drafted by the mentee, signed by both on the same version.
    agreement = await j.ok(
        "PUT",
        f"{ms}/agreement",
        201,
        headers=ben,
        json={"goals": ["Ship a Python library"], "channels": ["video"], "cadence_days": 7},
    )
    for who in (ben, ada):
        signed = await j.ok(
            "POST", f"{ms}/agreement/sign", headers=who, json={"version": agreement["version"]}
        )
    assert signed["state"] == "signed", signed

    # A reminder five minutes ahead: the first occurrence starts just past that lead.
    prefs = await j.ok(
        "PUT", "/notifications/preferences", headers=ben, json={"reminder_lead_minutes": [5]}
    )
    assert prefs["reminder_lead_minutes"] == [5]
    first = datetime.now(UTC) + timedelta(minutes=5, seconds=40)
    local = first.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    series = await j.ok(
        "POST",
        f"{ms}/meetings",
        201,
        headers=ben,
        json={
            "start": local.isoformat(),
            "time_zone": ZONE,
            "duration_minutes": 30,
            "recurrence": "FREQ=WEEKLY;COUNT=3",
        },
    )
    occurrences = series["occurrences"]
    assert [m["occurrence"] for m in occurrences] == [1, 2, 3]
    assert {datetime.fromisoformat(m["local_start"]).time() for m in occurrences} == {local.time()}
    # Across a DST change the wall time holds and the UTC time moves (none falls in these weeks).
    spring = await j.ok(
        "POST",
        f"{ms}/meetings",
        201,
        headers=ada,
        json={
            "start": "2027-03-04T09:00:00",
            "time_zone": ZONE,
            "duration_minutes": 30,
            "recurrence": "FREQ=WEEKLY;COUNT=3",
        },
    )
    starts = [datetime.fromisoformat(m["starts_at"]) for m in spring["occurrences"]]
    assert [s.astimezone(UTC).hour for s in starts] == [14, 14, 13]
    assert {datetime.fromisoformat(m["local_start"]).hour for m in spring["occurrences"]} == {9}

    await eventually(
        lambda: j.inbox_kinds("Ben Mentee"),
        until=lambda k: "meeting_reminder" in k,
        timeout=120,
    )
    assert datetime.now(UTC) < first  # the reminder came before the meeting, as it must
    meeting = occurrences[0]["id"]
    early = await gateway.post(f"/sessions/meetings/{meeting}/complete", json={}, headers=ben)
    assert early.status_code == 409, early.text
    assert "not started" in early.json()["detail"]
    await j.ok(
        "POST", f"{ms}/feedback", 201, headers=ben, json={"rating": 5, "visibility": "shared"}
    )

    # The at-risk nudge: the sweep flags the watched program's mentorship; both hear of it.
    drifting, _, _ = await j.matched(watched, "Finn Mentee")
    flagged = await eventually(
        lambda: j.ok("GET", f"/sessions/mentorships/{drifting['id']}/health"),
        until=lambda h: h["at_risk_since"] is not None,
        timeout=120,
    )
    assert flagged["threshold"] == 100 and flagged["score"] < 100
    await eventually(
        lambda: j.inbox_kinds("Finn Mentee"),
        until=lambda k: "mentorship_at_risk" in k,
        timeout=120,
    )
    assert "mentorship_at_risk" not in await j.inbox_kinds("Ben Mentee")

    # Completion: each side's closing evaluation; the meetings still ahead are cancelled.
    closing = {"rating": 5, "goals_met": "fully", "would_recommend": True}
    for who in (ben, ada):
        done = await j.ok("POST", f"{ms}/complete", headers=who, json=closing)
    assert done["status"] == "completed"
    evaluations = await j.ok("GET", f"{ms}/evaluations")
    assert sorted(e["side"] for e in evaluations) == ["mentee", "mentor"]
    [own] = await j.ok("GET", f"{ms}/evaluations", headers=ben)  # a participant sees their own
    assert own["side"] == "mentee"

    report = await j.ok("GET", f"/sessions/programs/{alumni}/report")
    assert report["mentorships"] == {
        "active": 0, "paused": 0, "completed": 1, "ended": 0, "total": 1,
    }  # fmt: skip
    assert report["closing_evaluations"] == {"n": 2, "mean_rating": 5.0}
    assert report["feedback"]["n"] == 1 and report["at_risk"] == 0
    watched_report = await j.ok("GET", f"/sessions/programs/{watched}/report")
    assert watched_report["at_risk"] == 1 and watched_report["mentorships"]["active"] == 1

    # The partner got every event of the organization since it subscribed, signed, once each.
    async def compare():
        expected = await _tenant_events(platform, org)
        got = {e["id"]: e["type"] for _, e in receiver.verified}
        return expected, got

    def delivered_all(expected_got):
        expected, got = expected_got
        # organization.created may come before the subscription does: the one event allowed out.
        created = {k for k, v in expected.items() if v == p.OrganizationCreated.event_type}
        return set(got) in (set(expected), set(expected) - created)

    _, got = await eventually(compare, until=delivered_all, timeout=120, interval=1.0)
    assert receiver.refused == []
    ids = [webhook_id for webhook_id, _ in receiver.verified]
    assert len(ids) == len(set(ids)) == len(got)
    assert {e["tenant"] for _, e in receiver.verified} == {str(org)}
    assert {
        "trellis.profiles.program.created.v1",
        "trellis.profiles.person.registered.v1",
        "trellis.profiles.enrollment.created.v1",
        "trellis.matching.matching_run.completed.v1",
        "trellis.matching.match.proposed.v1",
        "trellis.matching.match.accepted.v1",
        "trellis.profiles.connection.created.v1",
        "trellis.sessions.mentorship.started.v1",
        "trellis.sessions.agreement.signed.v1",
        "trellis.sessions.meeting.scheduled.v1",
        "trellis.sessions.feedback.submitted.v1",
        "trellis.sessions.mentorship.at_risk.v1",
        "trellis.sessions.meeting.cancelled.v1",
        "trellis.sessions.mentorship.completed.v1",
    } <= set(got.values())
