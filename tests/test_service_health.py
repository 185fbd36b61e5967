"""Every service starts against the real Postgres and Kafka and reports its readiness."""

import importlib
import secrets
import uuid

import pytest
import sqlalchemy as sa
from opentelemetry.trace import SpanKind

from trellis_infra.pytest_plugin import bearer, running_app, settings_for
from trellis_infra.stack import SERVICES


def _app(stack, service: str, **overrides):
    main = importlib.import_module(f"trellis_{service}.main")
    settings_cls = getattr(
        importlib.import_module(f"trellis_{service}.settings"), f"{service.capitalize()}Settings"
    )
    return main.create_app(settings_for(stack, service, settings_cls, **overrides))


@pytest.mark.parametrize("service", SERVICES)
async def test_ready_when_its_database_and_kafka_are_reachable(stack, service):
    async with running_app(_app(stack, service)) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
        spec = await client.get(f"/{service}/openapi.json")
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["kafka"] == "ok"
    assert spec.json()["info"]["title"] == f"Trellis {service}"


@pytest.mark.parametrize("service", SERVICES)
async def test_not_ready_when_kafka_is_unreachable(stack, service):
    async with running_app(_app(stack, service, kafka_bootstrap="127.0.0.1:1")) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"] == "unreachable"


async def test_a_request_is_one_server_span_named_by_its_route_in_the_callers_trace(stack, spans):
    """What a trace reader sees of a request: one span, the route template, the caller's trace."""
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    person = uuid.uuid4()
    async with running_app(_app(stack, "profiles")) as client:
        spans.clear()
        missing = await client.get(
            f"/profiles/people/{person}",
            headers=bearer(org=uuid.uuid4(), roles=["member"])
            | {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Request-ID": "req-42"},
        )
        await client.get("/healthz")
        await client.get("/metrics")
    assert missing.status_code == 404, missing.text
    finished = spans.get_finished_spans()
    # One server span for three requests: the probes (/healthz, /metrics) make none.
    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    assert server.name == "GET /profiles/people/{person_id}"
    assert format(server.context.trace_id, "032x") == trace_id
    assert format(server.parent.span_id, "016x") == caller_span
    assert server.attributes["http.route"] == "/profiles/people/{person_id}"
    assert server.attributes["http.request.method"] == "GET"
    assert server.attributes["url.path"] == f"/profiles/people/{person}"
    assert server.attributes["http.response.status_code"] == 404
    assert server.attributes["http.request_id"] == "req-42"
    # The database read is inside the request's span.
    assert any(s.parent and s.parent.span_id == server.context.span_id for s in finished)


async def test_a_request_that_finds_every_connection_busy_is_told_to_retry(stack):
    """An exhausted pool is overload, not a fault: 503 with Retry-After, after a bounded wait."""
    app = _app(stack, "profiles", db_pool_size=1, db_pool_timeout_s=1.0)
    headers = bearer(org=uuid.uuid4(), roles=["member"])
    async with running_app(app) as client:
        async with app.state.runtime.engine.connect() as held:
            await held.execute(sa.text("SELECT 1"))
            busy = await client.get(f"/profiles/people/{uuid.uuid4()}", headers=headers)
        freed = await client.get(f"/profiles/people/{uuid.uuid4()}", headers=headers)
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"] == "2"
    assert busy.headers["Content-Type"] == "application/problem+json"
    assert freed.status_code == 404, freed.text
