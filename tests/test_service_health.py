"""Every service starts against the real Postgres and Kafka and reports its readiness."""

import importlib

import pytest

from trellis_infra.pytest_plugin import running_app, settings_for
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
