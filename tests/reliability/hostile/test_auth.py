"""Authentication and role escalation on every service.

Every operation the OpenAPI documents mark as needing a bearer token refuses a token that is
expired, not yet valid, signed with another key, unsigned (alg=none), tampered with, missing its
`sub`, `org` or `exp`, carrying a malformed `org` or unknown roles, or no JWT at all: 401,
problem+json, with a WWW-Authenticate challenge. A member calling an admin's route, an org admin
calling a platform admin's, and a partner without the scope get 403 and change nothing.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
import uuid
from typing import Any

import jwt

from tests.reliability.conftest import scale
from tests.reliability.hostile.conftest import Platform, Tenant
from tests.reliability.hostile.writes import valid_bodies
from trellis_infra.pytest_plugin import bearer, token
from trellis_shared.settings import DEV_JWT_SECRET


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "org": str(uuid.uuid4()),
        "roles": ["org_admin"],
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(**changes: Any) -> str:
    return jwt.encode(_claims(**changes), DEV_JWT_SECRET, algorithm="HS256")


def _tampered() -> str:
    """A member's real token whose payload was edited to say org_admin, signature kept."""
    header, _, signature = token(org=uuid.uuid4(), roles=["member"]).split(".")
    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def bad_credentials() -> dict[str, str]:
    """Authorization header values that must all be refused with a 401."""
    now = int(time.time())
    tokens = {
        "expired": _signed(iat=now - 7200, exp=now - 3600),
        "not yet valid": _signed(nbf=now + 3600),
        "wrong signature": jwt.encode(_claims(), "another-secret-of-32-characters-or-more"),
        "alg=none": jwt.encode(_claims(), None, algorithm="none"),
        "tampered payload": _tampered(),
        "missing sub": _signed(sub=None),
        "missing org": _signed(org=None),
        "missing exp": _signed(exp=None),
        "org not a uuid": _signed(org="acme"),
        "unknown role": _signed(roles=["superuser"]),
        "roles not a list": _signed(roles="org_admin"),
        "garbage": "not-a-jwt",
    }
    headers = {name: f"Bearer {value}" for name, value in tokens.items()}
    headers["no token after Bearer"] = "Bearer "
    headers["basic scheme"] = "Basic " + base64.b64encode(b"admin:admin").decode()
    return headers


def authenticated_operations(p: Platform) -> list[tuple[str, str]]:
    found = []
    for document in p.openapi().values():
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                if "security" in operation:
                    found.append((method.upper(), template))
    return found


def _any_ids(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda _: str(uuid.uuid4()), template)


async def test_every_bad_token_is_a_401_problem_on_every_operation(apps, figures):
    operations = authenticated_operations(apps)
    credentials = list(bad_credentials().items())
    # The short run gives each operation one kind of bad token in turn; the full run, all.
    kinds = itertools.cycle(credentials)
    plan = [
        (op, kind)
        for op in operations
        for kind in (credentials if scale(False, True) else [next(kinds)])
    ]
    wrong, accepted, errors_5xx = [], 0, 0
    for (method, template), (name, value) in plan:
        body = None if method in ("GET", "DELETE") else {}
        got = await apps.request(
            method, _any_ids(template), json=body, headers={"Authorization": value}
        )
        # Any other answer than a 401 means the credential got past authentication.
        accepted += got.status_code != 401
        errors_5xx += got.status_code >= 500
        if (
            got.status_code != 401
            or not got.headers["content-type"].startswith("application/problem+json")
            or not got.headers.get("www-authenticate", "").startswith("Bearer")
        ):
            wrong.append(f"{name}: {method} {template} -> {got.status_code} {got.text[:200]}")
    figures.summary(
        load=f"{len(operations)} authenticated operations, in-process",
        faults=f"{len(credentials)} kinds of bad credential",
        cases=len(plan),
        leaks=accepted,
        errors_5xx=errors_5xx,
    )
    figures.add("authenticated operations", len(operations))
    figures.add("bad-token attempts", len(plan))
    figures.add("refused with 401 problem+json", len(plan) - len(wrong))
    assert not wrong, "\n".join(wrong)
    # Without any Authorization header at all, too.
    for method, template in operations:
        got = await apps.request(method, _any_ids(template), json=None)
        assert got.status_code == 401, f"{method} {template}: {got.status_code}"


def escalations(t: Tenant) -> list[tuple[str, str, str, dict[str, str]]]:
    """(who, METHOD, url, headers): calls above the caller's role, on real resources."""
    member = t.as_("mentee")
    stranger_person = t.ids["mentee2"]
    admin_only = [
        ("POST", "/profiles/programs"),
        ("PATCH", f"/profiles/programs/{t.ids['program']}"),
        ("POST", "/profiles/people"),
        ("POST", f"/profiles/programs/{t.ids['program']}/enrollments"),
        ("PATCH", f"/profiles/people/{stranger_person}"),
        ("DELETE", f"/profiles/people/{stranger_person}"),
        ("GET", f"/profiles/people/{stranger_person}/enrollments"),
        ("POST", f"/profiles/enrollments/{t.ids['mentee2_enrollment']}/withdraw"),
        ("POST", f"/profiles/people/{stranger_person}/achievements"),
        ("POST", "/profiles/imports"),
        ("GET", f"/profiles/imports/{t.ids['import']}"),
        ("GET", f"/profiles/imports/{t.ids['import']}/errors"),
        ("POST", f"/matching/programs/{t.ids['program']}/proposals"),
        ("POST", f"/matching/programs/{t.ids['program']}/runs"),
        ("GET", f"/matching/runs/{t.ids['run']}"),
        ("GET", f"/sessions/programs/{t.ids['program']}/report"),
        ("GET", "/notifications/webhooks"),
        ("POST", "/notifications/webhooks"),
        ("GET", f"/notifications/webhooks/{t.ids['webhook']}"),
        ("DELETE", f"/notifications/webhooks/{t.ids['webhook']}"),
        ("POST", f"/notifications/webhooks/{t.ids['webhook']}/rotate-secret"),
        ("POST", f"/notifications/webhooks/{t.ids['webhook']}/enable"),
        ("GET", f"/notifications/webhooks/{t.ids['webhook']}/deliveries"),
        (
            "POST",
            f"/notifications/webhooks/{t.ids['webhook']}/deliveries/{t.ids['delivery']}/resend",
        ),
        ("GET", "/notifications/admin-digest"),
        ("PUT", "/notifications/admin-digest"),
    ]
    calls = [("member", m, url, member) for m, url in admin_only]
    calls.append(("member", "GET", "/matching/proposals?person=" + stranger_person, member))
    calls.append(("org admin", "POST", "/profiles/organizations", t.admin))
    partner = bearer(org=t.org, roles=["partner"], sub="crm-sync")
    calls += [("partner without scope", m, url, partner) for m, url in admin_only[-10:-2]]
    return calls


def _body(t: Tenant, method: str, url: str) -> Any:
    if method in ("GET", "DELETE"):
        return None
    for key, body in valid_bodies(t).items():
        verb, template = key.split(" ", 1)
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        if verb == method and re.fullmatch(pattern, url):
            return body
    return {}


async def test_calls_above_the_callers_role_are_403(apps, tenant, figures):
    calls = escalations(tenant)
    people = await apps.ok("GET", "/profiles/people", params={"limit": 200}, headers=tenant.admin)
    wrong, accepted, errors_5xx = [], 0, 0
    for who, method, url, headers in calls:
        body = _body(tenant, method, url)
        got = await apps.request(method, url, json=body, headers=headers | {"If-Match": "*"})
        accepted += got.status_code not in (401, 403)
        errors_5xx += got.status_code >= 500
        if got.status_code != 403 or "problem+json" not in got.headers["content-type"]:
            wrong.append(f"{who}: {method} {url} -> {got.status_code} {got.text[:200]}")
    figures.summary(
        load="calls above the caller's role on real resources, in-process",
        faults="member, org admin and partner escalations",
        cases=len(calls),
        leaks=accepted,
        errors_5xx=errors_5xx,
    )
    figures.add("role escalation attempts", len(calls))
    figures.add("refused with 403", len(calls) - len(wrong))
    assert not wrong, "\n".join(wrong)
    assert (
        await apps.ok("GET", "/profiles/people", params={"limit": 200}, headers=tenant.admin)
    ) == people
    # Roles come from the signed token alone: a member naming roles in a body gets nowhere.
    own = f"/profiles/people/{tenant.ids['mentee']}"
    planted = await apps.request(
        "PATCH",
        own,
        json={"roles": ["org_admin"]},
        headers=tenant.as_("mentee") | {"If-Match": "*"},
    )
    assert planted.status_code == 422, planted.text
    assert [e["field"] for e in planted.json()["errors"]] == ["body.roles"]
    still = await apps.request(
        "POST", "/profiles/programs", json={"name": "x"}, headers=tenant.as_("mentee")
    )
    assert still.status_code == 403
