"""The first slice as a user sees it: through the gateway, with every service a process."""

import uuid

from trellis_infra.pytest_plugin import bearer, eventually


async def _register(gateway, org):
    response = await gateway.post(
        "/profiles/people",
        json={"full_name": "Katherine Johnson", "email": f"kj.{uuid.uuid4().hex[:8]}@example.org"},
        headers=bearer(org=org, roles=["org_admin"]),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _inbox(gateway, org, person_id):
    response = await gateway.get(
        "/notifications/inbox", headers=bearer(org=org, roles=["member"], sub=person_id)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_registration_reaches_the_inbox_through_the_gateway(gateway):
    org = uuid.uuid4()
    person = await _register(gateway, org)
    inbox = await eventually(lambda: _inbox(gateway, org, person["id"]), until=lambda i: i["data"])
    assert inbox["data"][0]["kind"] == "welcome"
    assert inbox["data"][0]["title"] == "Welcome to Trellis, Katherine"


async def test_the_gateway_returns_the_request_id(gateway):
    response = await gateway.get(
        "/profiles/people/" + str(uuid.uuid4()), headers={"X-Request-ID": "req-abc-123"}
    )
    assert response.headers["x-request-id"] == "req-abc-123"
    assert response.status_code == 401
    assert response.json()["request_id"] == "req-abc-123"


async def test_every_service_publishes_its_openapi_through_the_gateway(gateway):
    for service in ("profiles", "matching", "sessions", "notifications"):
        response = await gateway.get(f"/{service}/openapi.json")
        assert response.status_code == 200, service
        assert response.json()["info"]["title"] == f"Trellis {service}"


async def test_unknown_paths_are_problem_json_at_the_gateway(gateway):
    response = await gateway.get("/billing/invoices")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_oversized_body_is_a_413_problem(gateway):
    response = await gateway.post(
        "/profiles/people",
        content=b"x" * (2 * 1024 * 1024),
        headers={
            **bearer(org=uuid.uuid4(), roles=["org_admin"]),
            "content-type": "application/json",
        },
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_client_over_its_rate_is_answered_429_problem_json(gateway):
    import asyncio

    headers = bearer(org=uuid.uuid4(), roles=["member"])
    # All at once: the limit is about arrival rate (the test stack's gateway allows 10 r/s with a
    # burst of 20), which a sequential client on a busy machine might not reach.
    responses = await asyncio.gather(
        *(gateway.get("/matching/healthz-unknown", headers=headers) for _ in range(400))
    )
    limited = [r for r in responses if r.status_code == 429]
    assert limited, sorted({r.status_code for r in responses})
    assert limited[0].headers["content-type"].startswith("application/problem+json")
    assert limited[0].json()["status"] == 429
    assert "retry-after" in limited[0].headers
    # Another client is not affected by the first one's limit.
    other = await gateway.get(
        "/matching/openapi.json", headers=bearer(org=uuid.uuid4(), roles=["member"])
    )
    assert other.status_code == 200


async def test_a_stopped_service_is_a_502_problem_and_comes_back(gateway, platform):
    platform.stop_service("sessions")
    try:
        response = await gateway.get("/sessions/openapi.json")
        assert response.status_code == 502
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 502
    finally:
        platform.start_service("sessions")
    assert (await gateway.get("/sessions/openapi.json")).status_code == 200


async def test_the_gateway_serves_the_partner_contract_next_to_the_openapi_documents(gateway):
    import yaml

    from trellis_shared import asyncapi

    served = await gateway.get("/asyncapi.yaml")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(served.text) == yaml.safe_load(asyncapi.as_yaml(asyncapi.document()))
    as_json = await gateway.get("/asyncapi.json")
    assert as_json.json()["asyncapi"] == "3.0.0"
    for service in ("profiles", "matching", "sessions", "notifications"):
        openapi = await gateway.get(f"/{service}/openapi.json")
        assert openapi.status_code == 200, service
        assert openapi.json()["info"]["title"]


async def test_one_registration_is_one_trace_across_profiles_matching_and_notifications(
    gateway, platform
):
    """The trace a person can look at without Docker: `trellis trace <id>` from local span files."""
    import secrets

    from typer.testing import CliRunner

    from trellis_shared import tracefile
    from trellis_shared.cli import app

    trace_id = secrets.token_hex(16)
    org = uuid.uuid4()
    response = await gateway.post(
        "/profiles/people",
        json={"full_name": "Dorothy Vaughan", "email": f"dv.{uuid.uuid4().hex[:8]}@example.org"},
        headers=bearer(org=org, roles=["org_admin"])
        | {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert response.status_code == 201, response.text
    traces = platform.config.state_dir / "traces"

    def services_seen():
        spans = tracefile.read_spans(sorted(traces.glob("*.jsonl")), trace_id)
        return {s.service.removeprefix("trellis-") for s in spans}

    async def probe():
        return services_seen()

    # Each process exports its spans in batches every few seconds.
    seen = await eventually(
        probe, until=lambda s: {"profiles", "matching", "notifications"} <= s, timeout=60
    )
    assert {"profiles", "matching", "notifications"} <= seen
    shown = CliRunner().invoke(app, ["trace", trace_id, "--dir", str(traces)])
    assert shown.exit_code == 0, shown.output
    assert "POST /profiles/people" in shown.output
    assert "trellis.profiles.person" in shown.output
