"""The matching service starts against the real Postgres and Kafka and reports its readiness."""

from trellis_infra.pytest_plugin import running_app, settings_for
from trellis_matching.main import create_app
from trellis_matching.settings import MatchingSettings


async def test_ready_when_its_database_and_kafka_are_reachable(stack):
    async with running_app(create_app(settings_for(stack, "matching", MatchingSettings))) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
        spec = await client.get("/matching/openapi.json")
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["kafka"] == "ok"
    assert spec.json()["info"]["title"] == "Trellis matching"


async def test_not_ready_when_kafka_is_unreachable(stack):
    settings = settings_for(stack, "matching", MatchingSettings, kafka_bootstrap="127.0.0.1:1")
    async with running_app(create_app(settings)) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"] == "unreachable"
