"""Limits, at each service in-process: over-long strings are a 422 naming the field, deeply nested
JSON is a 4xx (never a 500 or a hang), page sizes are capped by a 422 naming `query.limit`, a
body over 1 MiB is a 413 at every JSON write route of every service, and an import over its own
(20 MB) limit is a 413 too (the gateway's limits are in test_limits_gateway.py).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.reliability.hostile.writes import (
    caller_for,
    json_writes,
    resolve,
    valid_bodies,
    write_url,
)

# An unbounded string field gets this much, and must still be refused.
HUGE = 100_000
LOAD = "every service in-process, as a caller inside the network"


def long_strings(document: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, over-long value) for each string property, and each list of strings."""
    probes = []
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(document, prop)
        if prop.get("type") == "string" and "enum" not in prop:
            probes.append((name, "x" * (prop.get("maxLength", HUGE) + 1)))
        items = prop.get("items", {})
        if prop.get("type") == "array" and items.get("type") == "string" and "enum" not in items:
            probes.append((name, ["x" * (items.get("maxLength", HUGE) + 1)]))
    return probes


async def test_over_long_strings_are_422_naming_the_field(apps, tenant, figures):
    bodies = valid_bodies(tenant)
    documents = apps.openapi()
    wrong, probes, accepted, errors_5xx = [], 0, 0, 0
    for method, template, schema in json_writes(apps):
        document = documents[template.split("/")[1]]
        for field, value in long_strings(document, schema):
            probes += 1
            got = await apps.request(
                method,
                write_url(template, tenant),
                json={**bodies[f"{method} {template}"], field: value},
                headers=caller_for(template, tenant) | {"If-Match": "*"},
            )
            accepted += got.status_code < 300
            errors_5xx += got.status_code >= 500
            named = [e["field"] for e in got.json().get("errors", [])] if got.content else []
            if got.status_code != 422 or not any(f.startswith(f"body.{field}") for f in named):
                wrong.append(f"{method} {template} {field}: {got.status_code} {got.text[:200]}")
    figures.summary(
        load=LOAD,
        faults="over-long strings",
        cases=probes,
        leaks=accepted,
        errors_5xx=errors_5xx,
    )
    figures.add("over-long string probes", probes)
    figures.add("refused with 422 naming the field", probes - len(wrong))
    assert probes > 50
    assert not wrong, "\n".join(wrong)


DEPTHS = [200, 100_000]


@pytest.mark.parametrize("depth", DEPTHS)
async def test_deeply_nested_json_is_a_4xx_on_every_service(apps, tenant, figures, depth):
    nested = "[" * depth + "]" * depth
    as_field = '{"name": ' + "{" + '"a": {' * (depth - 1) + "}" * depth + "}"
    writes = {
        "profiles": ("POST", "/profiles/programs"),
        "matching": ("POST", f"/matching/programs/{tenant.ids['program']}/runs"),
        "sessions": ("POST", f"/sessions/mentorships/{tenant.ids['mentorship']}/goals"),
        "notifications": ("PUT", "/notifications/preferences"),
    }
    answers = []
    for service, (method, url) in writes.items():
        for content in (nested, as_field):
            got = await asyncio.wait_for(
                apps.request(
                    method,
                    url,
                    content=content.encode(),
                    headers=caller_for(url, tenant) | {"content-type": "application/json"},
                ),
                timeout=30,
            )
            answers.append((service, got))
    figures.summary(
        load=LOAD,
        faults=f"JSON nested {' and '.join(f'{d:,}' for d in DEPTHS)} deep",
        cases=len(answers),
        leaks=sum(1 for _, got in answers if got.status_code < 300),
        errors_5xx=sum(1 for _, got in answers if got.status_code >= 500),
    )
    for service, got in answers:
        assert 400 <= got.status_code < 500, f"{service} {depth}: {got.status_code}"
        assert got.headers["content-type"].startswith("application/problem+json")


async def test_huge_page_sizes_are_refused_naming_the_limit(apps, tenant, figures):
    lists = []
    for document in apps.openapi().values():
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    if parameter["name"] == "limit" and parameter["in"] == "query":
                        lists.append((method.upper(), template, parameter["schema"]))
    ids = {
        "program_id": "program",
        "person_id": "mentee",
        "mentorship_id": "mentorship",
        "import_id": "import",
        "webhook_id": "webhook",
    }
    wrong, accepted, errors_5xx = [], 0, 0
    for method, template, schema in lists:
        url = re.sub(r"\{(\w+)\}", lambda m: tenant.ids[ids[m.group(1)]], template)
        params: dict[str, Any] = {"limit": 100_000}
        if template.endswith("/suggestions"):
            params["mentee"] = tenant.ids["mentee"]
        got = await apps.request(method, url, params=params, headers=tenant.admin)
        accepted += got.status_code < 300
        errors_5xx += got.status_code >= 500
        named = [e["field"] for e in got.json().get("errors", [])]
        if "maximum" not in schema or got.status_code != 422 or named != ["query.limit"]:
            wrong.append(f"{template}: {schema} -> {got.status_code} {got.text[:200]}")
    figures.summary(
        load=LOAD,
        faults="limit=100000 on every list",
        cases=len(lists),
        leaks=accepted,
        errors_5xx=errors_5xx,
    )
    figures.add("list routes with a page size", len(lists))
    figures.add("limit=100000 refused naming query.limit", len(lists) - len(wrong))
    assert not wrong, "\n".join(wrong)


async def test_a_body_over_a_mebibyte_is_a_413_at_every_json_write(apps, tenant, figures):
    """Callers inside the network reach the services without the gateway's 1 MB limit."""
    body = b'{"x": "' + b"x" * (1 << 20) + b'"}'
    wrong, writes, accepted, errors_5xx = [], json_writes(apps), 0, 0
    for method, template, _ in writes:
        headers = caller_for(template, tenant) | {
            "If-Match": "*",
            "content-type": "application/json",
        }
        got = await apps.request(method, write_url(template, tenant), content=body, headers=headers)
        accepted += got.status_code < 300
        errors_5xx += got.status_code >= 500
        if got.status_code != 413 or got.json().get("limit_bytes") != 1 << 20:
            wrong.append(f"{method} {template}: {got.status_code} {got.text[:200]}")
    figures.summary(
        load=LOAD,
        faults="bodies over 1 MiB",
        cases=len(writes),
        leaks=accepted,
        errors_5xx=errors_5xx,
    )
    figures.add("JSON write routes sent a 1 MiB + 9 B body", len(writes))
    figures.add("refused with 413 by the service", len(writes) - len(wrong))
    assert len(writes) > 20
    assert not wrong, "\n".join(wrong)


async def test_an_import_over_its_limit_is_a_413_at_the_service(apps, tenant, figures):
    from trellis_profiles.imports.service import MAX_BODY_BYTES

    row = b"external_id,full_name,email\n" + b"X-1,Too Big,big@example.org\n" * (
        MAX_BODY_BYTES // 28 + 2
    )
    assert len(row) > MAX_BODY_BYTES
    headers = tenant.admin | {"content-type": "text/csv"}
    got = await apps.request("POST", "/profiles/imports", content=row, headers=headers)

    # Streamed without a Content-Length, it is cut off at the limit all the same.
    async def chunks():
        for start in range(0, len(row), 1 << 20):
            yield row[start : start + (1 << 20)]

    streamed = await apps.request("POST", "/profiles/imports", content=chunks(), headers=headers)
    sent = (got, streamed)
    figures.summary(
        load=LOAD,
        faults="an import over its limit, sized and streamed",
        cases=len(sent),
        leaks=sum(1 for r in sent if r.status_code < 300),
        errors_5xx=sum(1 for r in sent if r.status_code >= 500),
    )
    assert got.status_code == 413, got.text[:200]
    assert got.headers["content-type"].startswith("application/problem+json")
    assert streamed.status_code == 413, streamed.text[:200]
