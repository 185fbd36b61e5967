"""The demo's first half: the organization and its program, the partner's webhook, the bulk import
through the CLI, one registration traced across services, and the optimal run. Everything goes
through the gateway, as a client of Trellis would."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trellis_infra.demo import data
from trellis_infra.demo.client import Api, DemoError, poll
from trellis_infra.demo.receiver import ReceiverProcess
from trellis_infra.demo.show import Show
from trellis_shared.contracts import matching as m
from trellis_shared.contracts import sessions as s

ORG_NAME, ORG_SLUG = "Northfield University", "northfield"
# What an alumni-relations CRM follows: outcomes, not every profile change.
PARTNER_EVENTS = tuple(
    c.event_type
    for c in (
        m.MatchingRunCompleted, m.MatchAccepted, m.MatchDeclined, s.MentorshipStarted,
        s.AgreementSigned, s.MeetingCancelled, s.CheckinSubmitted, s.FeedbackSubmitted,
        s.MentorshipAtRisk, s.MentorshipCompleted, s.MentorshipEnded,
    )
)  # fmt: skip
# The demo's program wants to hear early: a fresh mentorship scores about 96 and the drifting one
# about 77, whereas the default threshold (50) takes weeks without meetings to cross.
HEALTH_THRESHOLD = 80


@dataclass
class Options:
    url: str
    out: Path
    mentors: int = 300
    mentees: int = 1200
    seed: int = 2027
    concurrency: int = 8
    receiver_port: int = 8090
    watch_pid_file: Path | None = None  # the receiver stops once this process is gone
    traces: Path | None = None  # where the services write spans (`trellis trace`)
    mail: Path | None = None  # where the mail sink files email
    at_risk_wait: float = 120.0  # how long to wait for the health watch's flag
    settle: float = 120.0  # how long to wait for the partner's deliveries at the end
    sweep_note: str = ""  # what is known of the health sweep's period


@dataclass
class Seeded:
    """What the steps made, for the later steps, the panel and the test."""

    opts: Options
    cohort: data.Cohort
    started: float = field(default_factory=time.monotonic)
    org: uuid.UUID | None = None
    org_name: str = ""
    slug: str = ""
    program: dict = field(default_factory=dict)
    hook: dict = field(default_factory=dict)
    receiver: ReceiverProcess | None = None
    ids: dict[str, str] = field(default_factory=dict)  # external id -> person id
    trace_id: str = ""
    run: dict = field(default_factory=dict)
    accepted: list[dict] = field(default_factory=list)
    declined: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    mentorships: list[dict] = field(default_factory=list)
    drifting: dict = field(default_factory=dict)
    health: dict = field(default_factory=dict)
    inbox_of: str = ""  # a person id whose inbox the panel shows
    counts: dict[str, int] = field(default_factory=dict)

    _people: dict[str, data.Person] = field(default_factory=dict)

    @property
    def people(self) -> dict[str, data.Person]:
        """Person id -> the generated person."""
        if len(self._people) != len(self.ids):
            known = self.cohort.by_external_id()
            self._people = {pid: known[ext] for ext, pid in self.ids.items()}
        return self._people


async def organization(api: Api, show: Show, state: Seeded) -> None:
    """A new organization; a name already taken means an earlier run seeded it."""
    for n in range(1, 1000):
        name = ORG_NAME if n == 1 else f"{ORG_NAME} ({n})"
        slug = ORG_SLUG if n == 1 else f"{ORG_SLUG}-{n}"
        response = await api.response(
            "POST",
            "/profiles/organizations",
            token=api.platform_token(),
            json={"name": name, "slug": slug},
        )
        if response.status_code == 409:
            continue
        if response.status_code != 201:
            raise DemoError(f"creating the organization answered {response.text}")
        api.org = state.org = uuid.UUID(response.json()["id"])
        state.org_name, state.slug = name, slug
        if n > 1:
            show.warn(
                f"{ORG_NAME} was seeded by an earlier run (slug {ORG_SLUG!r} is taken): "
                f"this run seeds another organization, {name!r}, with the same people"
            )
        show.fact(f"organization {name} ({state.org})")
        return
    raise DemoError("no free organization slug")


async def partner_webhook(api: Api, show: Show, state: Seeded) -> None:
    """The partner's receiver, then its subscription: before anything happens to report."""
    opts = state.opts
    receiver = ReceiverProcess(opts.out / "receiver", opts.receiver_port, opts.watch_pid_file)
    await asyncio.to_thread(receiver.ensure_running)
    name = str(state.org)
    state.hook = await api.call(
        "POST",
        "/notifications/webhooks",
        json={
            "url": receiver.url(name),
            "event_types": list(PARTNER_EVENTS),
            "description": "Northfield alumni-relations CRM (the demo's receiver)",
        },
        expect=(201,),
    )
    receiver.add_secret(name, state.hook["secret"])
    state.receiver = receiver
    show.fact(f"partner webhook → {receiver.url(name)} ({len(PARTNER_EVENTS)} event types)")


async def program(api: Api, show: Show, state: Seeded) -> None:
    today = datetime.now(UTC).date()
    state.program = await api.call(
        "POST",
        "/profiles/programs",
        json={
            "name": "Alumni Mentoring 2027",
            "description": "Northfield alumni guide students through their first career steps: "
            "one mentor, one student, a meeting every two weeks for a semester.",
            "cohort_starts_on": str(today + timedelta(days=3)),
            "cohort_ends_on": str(today + timedelta(days=120)),
            "meeting_cadence_days": 14,
            "meeting_minutes": 45,
            "health_threshold": HEALTH_THRESHOLD,
            "matching": {
                "approval": "two_sided",
                "default_mentor_capacity": 2,
                "max_mentor_capacity": 5,
                "weights": {"skills": 3, "goals": 2, "availability": 1.5, "time_zone": 1},
                "constraints": {"max_time_zone_difference_hours": 10, "min_seniority_gap": 2},
            },
        },
        expect=(201,),
    )
    show.fact(
        f"program {state.program['name']}: two-sided approval, capacities up to 5, "
        f"at most 10 h apart, health threshold {HEALTH_THRESHOLD}"
    )


def _trellis_cli() -> list[str]:
    script = Path(sys.executable).with_name("trellis")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from trellis_shared.cli import app; app(prog_name='trellis')"]


async def bulk_import(api: Api, show: Show, state: Seeded) -> None:
    """The cohort as a CSV file with enrollment columns, uploaded by `trellis import people`."""
    cohort = state.cohort
    fd, name = tempfile.mkstemp(prefix="northfield-", suffix=".csv")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(cohort.csv(state.program["id"]))
        began = time.monotonic()
        command = [*_trellis_cli(), "import", "people", name, "--url", state.opts.url]
        show.console.print(f"  $ trellis import people {name} --url {state.opts.url}")
        show.console.file.flush()
        # The CLI draws its own progress bar on this terminal; the token travels in its env.
        child = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, "TRELLIS_TOKEN": api.token()}
        )
        code = await child.wait()
    finally:
        os.unlink(name)
    if code != 0:
        raise DemoError(f"trellis import people exited {code}")
    people = await api.pages("/profiles/people")
    state.ids = {p["external_id"]: p["id"] for p in people if p.get("external_id")}
    missing = {p.external_id for p in cohort.people} - set(state.ids)
    if missing:
        raise DemoError(f"{len(missing)} imported people are missing, e.g. {sorted(missing)[:3]}")
    show.fact(
        f"{len(cohort.mentors)} alumni and {len(cohort.mentees)} students imported "
        f"({time.monotonic() - began:.0f} s)"
    )


async def traced_registration(api: Api, show: Show, state: Seeded) -> None:
    """A student registers on their own, with a trace id of the demo's choosing."""
    late = state.cohort.late
    state.trace_id = secrets.token_hex(16)
    person = await api.call(
        "POST",
        "/profiles/people",
        json=late.body(),
        headers={"traceparent": f"00-{state.trace_id}-{secrets.token_hex(8)}-01"},
        expect=(201,),
    )
    state.ids[late.external_id] = person["id"]
    goals = [{"category": c, "description": d} for c, d in late.goals]
    await api.call(
        "POST",
        f"/profiles/programs/{state.program['id']}/enrollments",
        as_=person["id"],
        json={"person_id": person["id"], "role": "mentee", "goals": goals},
        expect=(201,),
    )
    show.fact(f"{late.full_name} registered on their own (trace {state.trace_id})")


async def _dry_run(api: Api, program_id: str) -> dict[str, Any]:
    started = await api.response(
        "POST", f"/matching/programs/{program_id}/runs", json={"dry_run": True}
    )
    if started.status_code in (404, 422):  # matching has not heard of the program or mentors yet
        return {}
    if started.status_code != 202:
        raise DemoError(f"a dry run answered {started.text}")
    run_id = started.json()["id"]
    done = await poll(
        lambda: api.call("GET", f"/matching/runs/{run_id}"),
        until=lambda r: r["status"] in ("completed", "failed"),
        timeout=120,
        interval=0.5,
        what="a dry run",
    )
    return done["results"]


async def matching_ready(api: Api, show: Show, state: Seeded) -> None:
    """Matching learns of people from events: wait until a dry run sees the whole cohort."""
    want = len(state.cohort.mentors) + len(state.cohort.mentees) + 1
    deadline = time.monotonic() + 300
    with show.bar("Matching hears of everyone (events)", total=want) as bar:
        while True:
            seen = await _dry_run(api, state.program["id"])
            # Each completed run is announced (matching_run.completed), dry ones too.
            state.counts["runs"] = state.counts.get("runs", 0) + bool(seen)
            bar.update(completed=seen.get("mentors", 0) + seen.get("mentees", 0))
            if seen.get("mentors", 0) + seen.get("mentees", 0) >= want:
                return
            if time.monotonic() > deadline:
                raise DemoError(f"matching saw {seen} of {want} people after 300 s")
            # Each dry run matches the whole cohort: ask every few seconds, not continuously.
            await asyncio.sleep(4)


async def optimal_run(api: Api, show: Show, state: Seeded) -> None:
    program_id = state.program["id"]
    with show.bar("Optimal matching run", total=100) as bar:
        run = await api.call(
            "POST", f"/matching/programs/{program_id}/runs", json={"mode": "optimal"}
        )

        async def probe() -> dict:
            found = await api.call("GET", f"/matching/runs/{run['id']}")
            bar.update(completed=round(100 * found["progress"]))
            return found

        state.run = await poll(
            probe,
            until=lambda r: r["status"] in ("completed", "failed"),
            timeout=300,
            interval=0.5,
            what="the optimal run",
        )
    results = state.run["results"]
    if state.run["status"] != "completed":
        raise DemoError(f"the run failed: {state.run.get('error')}")
    proof = results.get("optimality", {})
    show.fact(
        f"{results['matched']} of {results['mentees']} students matched with "
        f"{results['mentors']} alumni; objective {results['total_score']:.3f} "
        f"(mean score {results['mean_score']:.3f}), "
        f"{'optimal: LP dual bound = objective' if proof.get('certificate_verified') else ''}"
    )
    show.fact(
        f"capacity used {results['capacity_use']['used']} of "
        f"{results['capacity_use']['available']} places; "
        f"{len(results['unmatched'])} students wait for a free mentor"
    )
