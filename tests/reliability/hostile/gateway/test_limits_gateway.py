"""Limits at the gateway, with every service a process behind nginx: a body over the limit is a
413 problem on every service's routes (an import may be larger, up to its own limit), and a
flood from one client is answered 429 on every service while another client is served.
tests/test_slice_through_gateway.py checks the first 413 and 429; this sweeps every service.
"""

from __future__ import annotations

import asyncio
import uuid

from trellis_infra.gateway import LARGE_BODY_PATHS
from trellis_infra.pytest_plugin import bearer

MB = 1024 * 1024
LOAD = "every service behind the gateway (nginx)"


def _limit_bytes(limit: str) -> int:
    units = {"k": 1024, "m": MB, "g": 1024 * MB}
    return int(limit[:-1]) * units[limit[-1].lower()] if limit[-1].isalpha() else int(limit)


async def test_a_body_over_the_limit_is_a_413_problem_on_every_service(gateway, platform, figures):
    limit = _limit_bytes(platform.gateway.body_limit)
    writes = {
        "profiles": "/profiles/people",
        "matching": f"/matching/programs/{uuid.uuid4()}/runs",
        "sessions": f"/sessions/mentorships/{uuid.uuid4()}/goals",
        "notifications": "/notifications/webhooks",
    }
    headers = bearer(org=uuid.uuid4(), roles=["org_admin"]) | {"content-type": "application/json"}
    answers = []
    for service, url in writes.items():
        over = await gateway.post(url, content=b" " * (limit + 1), headers=headers)
        # Just under the limit, the service itself answers (here: a body that is not JSON).
        under = await gateway.post(url, content=b" " * (limit - 1024), headers=headers)
        answers.append((service, over, under))
    figures.summary(
        load=LOAD,
        faults=f"bodies just over and under {platform.gateway.body_limit}",
        cases=2 * len(answers),
        leaks=sum(1 for _, over, _ in answers if over.status_code != 413),
        errors_5xx=sum(1 for _, *sent in answers for r in sent if r.status_code >= 500),
    )
    for service, over, under in answers:
        assert over.status_code == 413, f"{service}: {over.status_code}"
        assert over.headers["content-type"].startswith("application/problem+json")
        assert over.json()["status"] == 413
        assert under.status_code in (400, 404, 422), f"{service}: {under.status_code}"


async def test_an_import_may_be_larger_than_other_bodies_up_to_its_own_limit(gateway, figures):
    [(path, limit)] = LARGE_BODY_PATHS["profiles"].items()
    headers = bearer(org=uuid.uuid4(), roles=["org_admin"]) | {"content-type": "text/csv"}
    header = b"external_id,full_name,email\n"
    row = b"G-1,Gateway Person,gateway@example.org\n"
    two_mb = header + row * (2 * MB // len(row))
    accepted = await gateway.post(path, content=two_mb, headers=headers)
    assert accepted.status_code == 202, accepted.text[:200]
    too_big = header + row * (_limit_bytes(limit) // len(row) + 1)
    refused = await gateway.post(path, content=too_big, headers=headers)
    sent = (accepted, refused)
    figures.summary(
        load=LOAD,
        faults=f"an import of 2 MB and one over {limit}",
        cases=len(sent),
        leaks=int(refused.status_code < 300),
        errors_5xx=sum(1 for r in sent if r.status_code >= 500),
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_a_flood_from_one_client_is_429_on_every_service(gateway, figures):
    for service in ("profiles", "matching", "sessions", "notifications"):
        flooder = bearer(org=uuid.uuid4(), roles=["member"])
        url = f"/{service}/openapi.json"
        responses = await asyncio.gather(*(gateway.get(url, headers=flooder) for _ in range(200)))
        limited = [r for r in responses if r.status_code == 429]
        served = [r for r in responses if r.status_code == 200]
        figures.summary(
            load=LOAD,
            faults="200 requests at once from one client, per service",
            cases=len(responses),
            errors_5xx=sum(1 for r in responses if r.status_code >= 500),
        )
        figures.add(f"{service}: flood of 200 at once, 429", len(limited))
        assert limited and len(limited) + len(served) == len(responses), service
        assert all(
            r.headers["content-type"].startswith("application/problem+json") for r in limited
        )
        assert all("retry-after" in r.headers for r in limited)
        # The limit is per client: another one is served meanwhile.
        other = await gateway.get(url, headers=bearer(org=uuid.uuid4(), roles=["member"]))
        assert other.status_code == 200, service
