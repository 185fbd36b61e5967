"""Hostile input against the whole platform: the four apps in-process on the real test stack, and
one organization that holds a real resource of every kind an id-taking route can name.

The organization is made the way users make it, through the APIs, with events flowing between
the services on the real broker: profiles' people and enrollments reach matching, an accepted
proposal starts the mentorship in sessions, registrations put a welcome in notifications' inbox.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from trellis_infra.pytest_plugin import bearer, caught_up, eventually, running_app, settings_for
from trellis_matching.main import create_app as create_matching
from trellis_matching.settings import MatchingSettings
from trellis_notifications.main import create_app as create_notifications
from trellis_notifications.settings import NotificationsSettings
from trellis_profiles.main import create_app as create_profiles
from trellis_profiles.settings import ProfilesSettings
from trellis_sessions.main import create_app as create_sessions
from trellis_sessions.settings import SessionsSettings

APPS = {
    "profiles": (create_profiles, ProfilesSettings),
    "matching": (create_matching, MatchingSettings),
    "sessions": (create_sessions, SessionsSettings),
    "notifications": (create_notifications, NotificationsSettings),
}
# A port nothing listens on: webhook deliveries to it fail and are logged, which is all we need.
DEAD_ENDPOINT = "http://127.0.0.1:9/hooks/trellis"


@dataclass
class Platform:
    stack: Any
    apps: dict[str, Any]
    clients: dict[str, httpx.AsyncClient]

    def client(self, path: str) -> httpx.AsyncClient:
        """The app that serves `path` (/<service>/...)."""
        return self.clients[path.split("/")[1]]

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client(path).request(method, path, **kwargs)

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def openapi(self) -> dict[str, dict[str, Any]]:
        """Each service's OpenAPI document, as it serves it."""
        return {name: app.openapi() for name, app in self.apps.items()}


@pytest.fixture(scope="package")
async def apps(stack) -> AsyncIterator[Platform]:
    """Every service in-process with its relay, consumers and workers, for this package (it has
    an __init__.py for that): started once, and stopped before later packages' modules start
    the services as processes, which need the consumer groups to themselves. The gateway's
    tests (gateway/, collected first) run those processes before this starts."""
    apps = {name: create(settings_for(stack, name, cls)) for name, (create, cls) in APPS.items()}
    async with AsyncExitStack() as running:
        clients = {
            name: await running.enter_async_context(running_app(app)) for name, app in apps.items()
        }
        for app in apps.values():
            await caught_up(app)
        yield Platform(stack, apps, clients)


@dataclass
class Tenant:
    """One organization and a real resource of every kind, by name (see `ids`)."""

    org: uuid.UUID
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        """The organization's admin, who is also a person of it (introductions need one)."""
        return bearer(org=self.org, roles=["org_admin"], sub=self.ids["admin_person"])

    def as_(self, person: str) -> dict[str, str]:
        """A member acting as the person named `person` in `ids` (mentor, mentee, mentee2)."""
        return bearer(org=self.org, roles=["member"], sub=self.ids[person])


def _import_file() -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["external_id", "full_name", "email", "time_zone"])
    writer.writeheader()
    writer.writerow(
        {
            "external_id": "H-1",
            "full_name": "Imported Person",
            "email": f"imported.{uuid.uuid4().hex[:8]}@example.org",
            "time_zone": "Europe/Paris",
        }
    )
    # A row with a bad email, so the import has an error row to list.
    writer.writerow({"external_id": "H-2", "full_name": "Bad Row", "email": "not-an-email"})
    return out.getvalue().encode()


async def build_tenant(p: Platform, name: str = "Hostile") -> Tenant:
    """An organization with a program, people, enrollments, proposals, a run, a mentorship and
    everything inside it, an inbox item, a webhook and its delivery, an import, an introduction
    and an achievement: what the isolation sweep and the mass-assignment probes act on."""
    created = await p.ok(
        "POST",
        "/profiles/organizations",
        201,
        json={"name": f"{name} {uuid.uuid4().hex[:6]}"},
        headers=bearer(org=uuid.uuid4(), roles=["platform_admin"]),
    )
    t = Tenant(org=uuid.UUID(created["id"]))
    t.ids["organization"] = created["id"]
    bare_admin = bearer(org=t.org, roles=["org_admin"])
    # A webhook first, so the events below are delivered (and fail) to the dead endpoint.
    hook = await p.ok(
        "POST",
        "/notifications/webhooks",
        201,
        json={"url": DEAD_ENDPOINT, "event_types": ["trellis.profiles.person.registered.v1"]},
        headers=bare_admin,
    )
    t.ids["webhook"] = hook["id"]
    program = await p.ok(
        "POST",
        "/profiles/programs",
        201,
        json={"name": "Hostile mentoring", "matching": {"approval": "two_sided"}},
        headers=bare_admin,
    )
    t.ids["program"] = program["id"]
    people = {
        "admin_person": {"time_zone": "UTC"},
        "mentor": {"time_zone": "Europe/London", "seniority_level": 8},
        "mentee": {"time_zone": "Europe/London", "seniority_level": 2},
        "mentee2": {"time_zone": "Europe/London", "seniority_level": 2},
    }
    for key, profile in people.items():
        person = await p.ok(
            "POST",
            "/profiles/people",
            201,
            json={
                "full_name": f"{key.title()} Person",
                "email": f"{key}.{uuid.uuid4().hex[:8]}@example.org",
                "languages": ["en"],
                **profile,
            },
            headers=bare_admin,
        )
        t.ids[key] = person["id"]
    t.ids["person"] = t.ids["mentee"]
    roles = {"mentor": "mentor", "mentee": "mentee", "mentee2": "mentee"}
    for key, role in roles.items():
        body: dict[str, Any] = {"person_id": t.ids[key], "role": role}
        if role == "mentor":
            body["capacity"] = 3
        else:
            body["goals"] = [{"category": "skills", "description": "Learn to lead a team"}]
        enrollment = await p.ok(
            "POST", f"/profiles/programs/{t.ids['program']}/enrollments", 201, json=body,
            headers=t.admin,
        )  # fmt: skip
        t.ids[f"{key}_enrollment"] = enrollment["id"]
    t.ids["enrollment"] = t.ids["mentor_enrollment"]

    # Matching learns of them from profiles' events; a manual proposal needs them all.
    async def propose(mentee: str) -> Any:
        return await p.request(
            "POST",
            f"/matching/programs/{t.ids['program']}/proposals",
            json={"mentee": t.ids[mentee], "mentor": t.ids["mentor"]},
            headers=t.admin,
        )

    accepted = await eventually(lambda: propose("mentee"), until=lambda r: r.status_code == 201)
    matched = accepted.json()["id"]
    for who in ("mentee", "mentor"):
        await p.ok("POST", f"/matching/proposals/{matched}/accept", headers=t.as_(who))
    t.ids["matched_proposal"] = matched
    pending = await eventually(lambda: propose("mentee2"), until=lambda r: r.status_code == 201)
    t.ids["proposal"] = pending.json()["id"]
    run = await p.ok(
        "POST",
        f"/matching/programs/{t.ids['program']}/runs",
        202,
        json={"mode": "optimal", "dry_run": True},
        headers=t.admin,
    )
    t.ids["run"] = run["id"]

    # Sessions starts the mentorship from match.accepted.
    found = await eventually(
        lambda: p.ok("GET", "/sessions/mentorships", headers=t.as_("mentee")),
        until=lambda page: bool(page["data"]),
    )
    t.ids["mentorship"] = ms = found["data"][0]["id"]
    mentee = t.as_("mentee")
    await p.ok(
        "PUT", f"/sessions/mentorships/{ms}/agreement", 201, json={"goals": ["Lead"]},
        headers=mentee,
    )  # fmt: skip
    goal = await p.ok(
        "POST", f"/sessions/mentorships/{ms}/goals", 201, json={"title": "Lead"}, headers=mentee
    )
    t.ids["goal"] = goal["id"]
    milestone = await p.ok(
        "POST", f"/sessions/goals/{goal['id']}/milestones", 201, json={"title": "First 1:1"},
        headers=mentee,
    )  # fmt: skip
    t.ids["milestone"] = milestone["id"]
    start = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0, tzinfo=None)
    meeting = await p.ok(
        "POST",
        f"/sessions/mentorships/{ms}/meetings",
        201,
        json={"start": start.isoformat(), "time_zone": "UTC", "duration_minutes": 30},
        headers=mentee,
    )
    t.ids["meeting"] = meeting["id"]
    await p.ok(
        "POST", f"/sessions/mentorships/{ms}/checkins", 201, json={"rating": 4}, headers=mentee
    )
    feedback = await p.ok(
        "POST",
        f"/sessions/mentorships/{ms}/feedback",
        201,
        json={"rating": 5, "visibility": "shared"},
        headers=mentee,
    )
    t.ids["feedback"] = feedback["id"]
    feed = await p.ok("POST", "/sessions/calendar/feed", 201, headers=mentee)
    t.ids["calendar_token"] = feed["url"].rsplit("/", 1)[-1].removesuffix(".ics")

    # Profiles: the accepted match connected mentor and mentee; the admin introduces mentee2.
    intro = await p.ok(
        "POST",
        "/profiles/introductions",
        201,
        json={"from_person_id": t.ids["mentee2"], "to_person_id": t.ids["mentor"]},
        headers=t.admin,
    )
    t.ids["introduction"] = intro["id"]
    achievement = await p.ok(
        "POST",
        f"/profiles/people/{t.ids['mentee']}/achievements",
        201,
        json={"kind": "certificate", "title": "Led a team", "achieved_on": str(date.today())},
        headers=mentee,
    )
    t.ids["achievement"] = achievement["id"]
    job = await p.ok(
        "POST",
        "/profiles/imports",
        202,
        content=_import_file(),
        headers=t.admin | {"content-type": "text/csv"},
    )
    t.ids["import"] = job["id"]

    # Notifications: the mentee's welcome, and a (failed) delivery to the webhook.
    inbox = await eventually(
        lambda: p.ok("GET", "/notifications/inbox", headers=mentee),
        until=lambda page: bool(page["data"]),
    )
    t.ids["inbox_item"] = inbox["data"][0]["id"]
    deliveries = await eventually(
        lambda: p.ok("GET", f"/notifications/webhooks/{hook['id']}/deliveries", headers=t.admin),
        until=lambda page: bool(page["data"]),
    )
    t.ids["delivery"] = deliveries["data"][0]["id"]
    await eventually(
        lambda: p.ok("GET", f"/profiles/imports/{job['id']}", headers=t.admin),
        until=lambda j: j["status"] in ("completed", "failed"),
    )
    return t


@pytest.fixture(scope="package")
async def tenant(apps) -> Tenant:
    """The organization the package's probes share: they refuse, so it stays as it was built
    (schemathesis, which changes what it reaches, builds its own)."""
    return await build_tenant(apps)
