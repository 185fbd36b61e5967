"""Mass assignment: a body that carries what the caller must not set (the tenant, an id, roles,
an owner, counters, states, timestamps, versions) is refused with a 422 naming the field, or the
field is ignored; it is never applied. Swept over every JSON write of the four OpenAPI documents,
each starting from a valid body (conftest.valid_bodies) so that the planted field is the only
thing wrong with it. A field the operation really takes (a goal's `status`, an enrollment's
`role`) is its own business and is left out. Bulk imports are probed with planted columns too.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.reliability.conftest import scale
from tests.reliability.hostile.writes import caller_for, json_writes, valid_bodies, write_url

OTHER_ORG = str(uuid.uuid4())
PLANTED: dict[str, Any] = {
    "org": OTHER_ORG,
    "organization_id": OTHER_ORG,
    "tenant": OTHER_ORG,
    "tenant_id": OTHER_ORG,
    "id": str(uuid.uuid4()),
    "role": "org_admin",
    "roles": ["org_admin", "platform_admin"],
    "scope": "webhooks:manage",
    "owner": str(uuid.uuid4()),
    "owner_id": str(uuid.uuid4()),
    "author_id": str(uuid.uuid4()),
    "requested_by": str(uuid.uuid4()),
    "capacity_used": 0,
    "status": "completed",
    "state": "signed",
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "version": 999,
    "secret": "whsec_planted",
    "is_admin": True,
}
# The short run plants the fields an attacker reaches for first.
FIELDS = scale(["organization_id", "id", "roles", "status", "version"], list(PLANTED))


async def test_planted_fields_are_refused_naming_them_or_ignored(apps, tenant, figures):
    bodies = valid_bodies(tenant)
    writes = json_writes(apps)
    missing = sorted(f"{m} {t}" for m, t, _ in writes if f"{m} {t}" not in bodies)
    assert not missing, f"writes without a valid body in conftest.valid_bodies: {missing}"
    wrong, refused, ignored, applied, errors_5xx = [], 0, 0, 0, 0
    for method, template, schema in writes:
        for field in FIELDS:
            if field in schema.get("properties", {}):
                continue
            body = {**bodies[f"{method} {template}"], field: PLANTED[field]}
            got = await apps.request(
                method,
                write_url(template, tenant),
                json=body,
                headers=caller_for(template, tenant) | {"If-Match": "*"},
            )
            errors_5xx += got.status_code >= 500
            errors = got.json().get("errors", []) if got.status_code == 422 else []
            if got.status_code == 422 and {e["field"] for e in errors} == {f"body.{field}"}:
                refused += 1
            elif got.status_code == 204 or (
                got.status_code < 300 and got.json().get(field) != PLANTED[field]
            ):
                ignored += 1
            else:
                applied += got.status_code < 300
                wrong.append(f"{method} {template} +{field}: {got.status_code} {got.text[:300]}")
    figures.summary(
        load=f"{len(writes)} JSON writes, each from a valid body",
        faults=f"{len(FIELDS)} kinds of planted field",
        cases=refused + ignored + len(wrong),
        leaks=applied,
        errors_5xx=errors_5xx,
    )
    figures.add("writes with a JSON body", len(writes))
    figures.add("planted fields refused (422 naming them)", refused)
    figures.add("planted fields ignored", ignored)
    figures.add("planted fields applied or mis-answered", len(wrong))
    assert not wrong, "\n".join(wrong)


async def test_an_import_cannot_plant_a_tenant_or_an_id(apps, tenant, figures):
    planted = ["organization_id", "id", "roles"]
    columns = ["external_id", "full_name", "email", *planted]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerow(
        {
            "external_id": "MA-1",
            "full_name": "Planted Person",
            "email": f"planted.{uuid.uuid4().hex[:8]}@example.org",
            "organization_id": OTHER_ORG,
            "id": str(uuid.uuid4()),
            "roles": "org_admin",
        }
    )
    got = await apps.request(
        "POST",
        "/profiles/imports",
        content=out.getvalue().encode(),
        headers=tenant.admin | {"content-type": "text/csv"},
    )
    figures.summary(
        load="a CSV import",
        faults="planted columns",
        cases=len(planted),
        # Accepted, the import would run with the planted columns.
        leaks=len(planted) if got.status_code < 300 else 0,
        errors_5xx=int(got.status_code >= 500),
    )
    assert got.status_code == 422, got.text
    assert {e["field"] for e in got.json()["errors"]} == {
        "body.organization_id",
        "body.id",
        "body.roles",
    }
