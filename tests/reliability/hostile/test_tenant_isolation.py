"""Tenant isolation, swept from the OpenAPI documents: every route that takes an id in its path,
with every verb, called by another organization on a real resource of the first one.

Another organization's admin must get exactly what a missing id gets: 404. Its member, even with
a token whose subject is one of the first organization's people, must get the answer a missing id
gets, never a success. Nothing the sweep sent may change the first organization's resources.
ROUTES is the table of how each id is made real (conftest.build_tenant makes them): a new route
that takes an id fails the sweep until it is added, so no route escapes it.

Within one organization, a member who is not part of a proposal, a mentorship (its meetings,
goals, feedback ...) or an inbox item gets 404 or 403 there, and changes nothing.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.reliability.hostile.conftest import Platform, Tenant
from tests.reliability.hostile.writes import valid_bodies
from trellis_infra.pytest_plugin import bearer

# Path template -> {path parameter: the tenant resource (Tenant.ids) it names}. `None` marks a
# capability URL: its secret token is the authority, whoever presents it.
ROUTES: dict[str, dict[str, str | None]] = {
    "/profiles/organizations/{organization_id}": {"organization_id": "organization"},
    "/profiles/programs/{program_id}": {"program_id": "program"},
    "/profiles/programs/{program_id}/enrollments": {"program_id": "program"},
    "/profiles/people/{person_id}/enrollments": {"person_id": "person"},
    "/profiles/enrollments/{enrollment_id}": {"enrollment_id": "enrollment"},
    "/profiles/enrollments/{enrollment_id}/withdraw": {"enrollment_id": "enrollment"},
    "/profiles/people/{person_id}": {"person_id": "person"},
    "/profiles/people/{person_id}/connections": {"person_id": "person"},
    "/profiles/people/{person_id}/network": {"person_id": "person"},
    "/profiles/people/{person_id}/achievements": {"person_id": "person"},
    "/profiles/introductions/{introduction_id}": {"introduction_id": "introduction"},
    "/profiles/introductions/{introduction_id}/accept": {"introduction_id": "introduction"},
    "/profiles/introductions/{introduction_id}/decline": {"introduction_id": "introduction"},
    "/profiles/imports/{import_id}": {"import_id": "import"},
    "/profiles/imports/{import_id}/errors": {"import_id": "import"},
    "/matching/programs/{program_id}/suggestions": {"program_id": "program"},
    "/matching/programs/{program_id}/proposals": {"program_id": "program"},
    "/matching/programs/{program_id}/requests": {"program_id": "program"},
    "/matching/programs/{program_id}/runs": {"program_id": "program"},
    "/matching/proposals/{proposal_id}": {"proposal_id": "proposal"},
    "/matching/proposals/{proposal_id}/accept": {"proposal_id": "proposal"},
    "/matching/proposals/{proposal_id}/decline": {"proposal_id": "proposal"},
    "/matching/runs/{run_id}": {"run_id": "run"},
    "/sessions/mentorships/{mentorship_id}": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/pause": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/resume": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/complete": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/end": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/evaluations": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/goals": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/agreement": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/agreement/sign": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/meetings": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/checkins": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/feedback": {"mentorship_id": "mentorship"},
    "/sessions/mentorships/{mentorship_id}/health": {"mentorship_id": "mentorship"},
    "/sessions/goals/{goal_id}": {"goal_id": "goal"},
    "/sessions/goals/{goal_id}/progress": {"goal_id": "goal"},
    "/sessions/goals/{goal_id}/complete": {"goal_id": "goal"},
    "/sessions/goals/{goal_id}/milestones": {"goal_id": "goal"},
    "/sessions/milestones/{milestone_id}/achieve": {"milestone_id": "milestone"},
    "/sessions/meetings/{meeting_id}.ics": {"meeting_id": "meeting"},
    "/sessions/meetings/{meeting_id}": {"meeting_id": "meeting"},
    "/sessions/meetings/{meeting_id}/reschedule": {"meeting_id": "meeting"},
    "/sessions/meetings/{meeting_id}/cancel": {"meeting_id": "meeting"},
    "/sessions/meetings/{meeting_id}/complete": {"meeting_id": "meeting"},
    "/sessions/meetings/{meeting_id}/private-note": {"meeting_id": "meeting"},
    "/sessions/calendar/{token}.ics": {"token": None},
    "/sessions/programs/{program_id}/report": {"program_id": "program"},
    "/notifications/inbox/{item_id}/read": {"item_id": "inbox_item"},
    "/notifications/webhooks/{webhook_id}": {"webhook_id": "webhook"},
    "/notifications/webhooks/{webhook_id}/rotate-secret": {"webhook_id": "webhook"},
    "/notifications/webhooks/{webhook_id}/enable": {"webhook_id": "webhook"},
    "/notifications/webhooks/{webhook_id}/deliveries": {"webhook_id": "webhook"},
    "/notifications/webhooks/{webhook_id}/deliveries/{delivery_id}/resend": {
        "webhook_id": "webhook",
        "delivery_id": "delivery",
    },
}


def id_routes(p: Platform) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, template, operation) of every documented operation with a path parameter."""
    found = []
    for document in p.openapi().values():
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                if "{" in template:
                    found.append((method.upper(), template, operation))
    return found


def fill(template: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


async def call(
    p: Platform, t: Tenant, method: str, template: str, path: str, headers: dict[str, str]
) -> Any:
    body = valid_bodies(t).get(f"{method} {template}")
    # "*" matches any version: were the lookup to let another tenant through, the write would land.
    headers = headers | {"If-Match": "*"}
    params = {"mentee": t.ids["mentee"]} if template.endswith("/suggestions") else None
    if body is None and method in ("GET", "DELETE"):
        return await p.request(method, path, headers=headers, params=params)
    return await p.request(method, path, headers=headers, params=params, json=body)


# Per resource, the fields an intruder's write would change; derived ones (health, a webhook's
# failure bookkeeping) move on their own and are left out.
KEPT = {
    "person": ("full_name", "headline", "version"),
    "program": ("name", "version"),
    "enrollment": ("status", "capacity", "version"),
    "introduction": ("status", "decided_at"),
    "proposal": ("status", "decided_at", "declined_by"),
    "mentorship": ("status", "version"),
    "meeting": ("status", "starts_at", "private_note", "version"),
    "goal": ("status", "title", "progress", "milestones", "version"),
    "agreement": ("goals", "state", "version"),
    "webhook": ("url", "event_types", "status", "previous_secret_expires_at"),
}


async def snapshot(p: Platform, t: Tenant) -> dict[str, Any]:
    """What the sweep must leave as it was, read by the organization's own people."""
    ms = t.ids["mentorship"]
    reads = {
        "person": f"/profiles/people/{t.ids['person']}",
        "program": f"/profiles/programs/{t.ids['program']}",
        "enrollment": f"/profiles/enrollments/{t.ids['enrollment']}",
        "introduction": f"/profiles/introductions/{t.ids['introduction']}",
        "proposal": f"/matching/proposals/{t.ids['proposal']}",
        "mentorship": f"/sessions/mentorships/{ms}",
        "meeting": f"/sessions/meetings/{t.ids['meeting']}",
        "goal": f"/sessions/goals/{t.ids['goal']}",
        "agreement": f"/sessions/mentorships/{ms}/agreement",
        "webhook": f"/notifications/webhooks/{t.ids['webhook']}",
    }
    state: dict[str, Any] = {}
    for name, url in reads.items():
        found = await p.ok("GET", url, headers=t.admin)
        state[name] = {key: found[key] for key in KEPT[name]}
    lists = {
        "goals": f"/sessions/mentorships/{ms}/goals",
        "meetings": f"/sessions/mentorships/{ms}/meetings",
        "feedback": f"/sessions/mentorships/{ms}/feedback",
        "checkins": f"/sessions/mentorships/{ms}/checkins",
        "achievements": f"/profiles/people/{t.ids['person']}/achievements",
        "enrollments": f"/profiles/programs/{t.ids['program']}/enrollments",
    }
    for name, url in lists.items():
        page = await p.ok("GET", url, headers=t.admin)
        items = page["data"] if isinstance(page, dict) else page
        state[name] = sorted(item["id"] for item in items)
    inbox = await p.ok("GET", "/notifications/inbox", headers=t.as_("mentee"))
    [item] = [i for i in inbox["data"] if i["id"] == t.ids["inbox_item"]]
    state["inbox_item_read_at"] = item["read_at"]
    return state


async def test_another_organization_gets_404_on_every_id_of_every_route(apps, tenant, figures):
    routes = id_routes(apps)
    unknown = sorted({template for _, template, _ in routes} - set(ROUTES))
    assert not unknown, f"routes that take an id but are not in ROUTES: {unknown}"
    before = await snapshot(apps, tenant)
    intruder_org = uuid.uuid4()
    intruders = {
        "admin": bearer(org=intruder_org, roles=["org_admin"]),
        # A token of another tenant whose subject is one of this tenant's people.
        "member": bearer(org=intruder_org, roles=["member"], sub=tenant.ids["mentee"]),
    }
    leaks, swept, refused, errors_5xx = [], 0, 0, 0
    for method, template, _ in routes:
        params = ROUTES[template]
        if None in params.values():
            continue  # a capability URL: checked below
        real = fill(template, {k: tenant.ids[v] for k, v in params.items()})
        missing = fill(template, {k: str(uuid.uuid4()) for k in params})
        for who, headers in intruders.items():
            got = await call(apps, tenant, method, template, real, headers)
            swept += 1
            errors_5xx += got.status_code >= 500
            # The member's token names one of this tenant's people as its subject: routes for
            # "yourself" may let it past the role check (its own id) or not (another's), but
            # either way the answer is a refusal that says nothing about this tenant.
            allowed = {404} if who == "admin" else {403, 404}
            if got.status_code in allowed:
                refused += 1
            else:
                leaks.append(f"{who}: {method} {real} -> {got.status_code} {got.text[:200]}")
            if who == "admin":
                baseline = await call(apps, tenant, method, template, missing, headers)
                assert baseline.status_code == 404, f"{method} {missing}: {baseline.text}"
    after = await snapshot(apps, tenant)
    changed = [name for name in before if after[name] != before[name]]
    figures.summary(
        load=f"{len(routes)} id routes, every verb, 2 intruder tokens",
        faults="another organization on real ids",
        cases=swept,
        # An answer other than a missing id's, or a resource the sweep changed.
        leaks=len(leaks) + len(changed),
        errors_5xx=errors_5xx,
    )
    figures.add("id routes in the OpenAPI documents", len(routes))
    figures.add("cross-tenant calls on real ids", swept)
    figures.add("refused exactly like a missing id", refused)
    figures.add("leaks", len(leaks))
    assert not leaks, "\n".join(leaks)
    assert after == before, changed


async def test_a_calendar_feed_is_read_only_with_its_secret(apps, tenant, figures):
    token = tenant.ids["calendar_token"]
    feed = await apps.request("GET", f"/sessions/calendar/{token}.ics")
    assert feed.status_code == 200 and "BEGIN:VCALENDAR" in feed.text
    forged = await apps.request("GET", f"/sessions/calendar/{token[:-2]}xx.ics")
    figures.summary(
        load="a calendar feed URL",
        faults="a forged feed token",
        cases=1,
        leaks=int(forged.status_code != 404),
        errors_5xx=int(forged.status_code >= 500),
    )
    assert forged.status_code == 404


# Routes of a mentorship: its participants and admins only; anyone else gets 404.
_MENTORSHIP = re.compile(r"^/sessions/(mentorships|goals|milestones|meetings)/")


async def test_a_member_cannot_act_on_someone_elses_things(apps, tenant, figures):
    """mentee2 is in the organization, but not in the mentorship, its meetings, goals, feedback
    and agreement, nor the mentee's inbox; the mentee is not in mentee2's proposal."""
    before = await snapshot(apps, tenant)
    stranger = tenant.as_("mentee2")
    attempts: list[tuple[str, str, str, dict[str, str]]] = []
    for method, template, _ in id_routes(apps):
        if _MENTORSHIP.match(template):
            params = {k: tenant.ids[v] for k, v in ROUTES[template].items() if v}
            attempts.append((method, template, fill(template, params), stranger))
    attempts.append(("POST", "", f"/notifications/inbox/{tenant.ids['inbox_item']}/read", stranger))
    for action in ("", "/accept", "/decline"):
        url = f"/matching/proposals/{tenant.ids['proposal']}{action}"
        attempts.append(("POST" if action else "GET", "", url, tenant.as_("mentee")))
    wrong, errors_5xx = [], 0
    for method, template, url, headers in attempts:
        got = await call(apps, tenant, method, template, url, headers)
        errors_5xx += got.status_code >= 500
        allowed = {404} if template.startswith("/sessions") else {403, 404}
        if got.status_code not in allowed:
            wrong.append(f"{method} {url} -> {got.status_code} {got.text[:200]}")
    after = await snapshot(apps, tenant)
    changed = [name for name in before if after[name] != before[name]]
    figures.summary(
        load=f"{len(attempts)} calls by a member on someone else's things",
        faults="a member outside the mentorship, proposal or inbox",
        cases=len(attempts),
        leaks=len(wrong) + len(changed),
        errors_5xx=errors_5xx,
    )
    figures.add("same-organization attempts on someone else's things", len(attempts))
    figures.add("refused", len(attempts) - len(wrong))
    assert not wrong, "\n".join(wrong)
    assert after == before, changed
