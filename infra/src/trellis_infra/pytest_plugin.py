"""Test fixtures for Trellis: real Postgres and Kafka, chosen once per run, and helpers.

Where the infrastructure comes from, in order:
1. `TRELLIS_DATABASE_URL` (a superuser DSN) and `TRELLIS_KAFKA_BOOTSTRAP`: used as they are.
2. A reachable Docker engine with testcontainers installed: Postgres and Kafka containers.
3. Otherwise local processes (Debian's PostgreSQL, Kafka from Maven Central) in .trellis/test/,
   on their own ports, isolated from a running `make up`.
The run's header says which was chosen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from trellis_infra.stack import SERVICES, Stack, StackConfig
from trellis_shared.auth import mint_token
from trellis_shared.settings import DEV_JWT_SECRET

SPANS = InMemorySpanExporter()
_choice: dict[str, str] = {}
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    # Installed before any app configures telemetry, so every span of the run lands here.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)


def pytest_report_header(config: pytest.Config) -> str:
    return f"trellis infrastructure: {_describe_choice()}"


def _describe_choice() -> str:
    if os.environ.get("TRELLIS_DATABASE_URL") and os.environ.get("TRELLIS_KAFKA_BOOTSTRAP"):
        return "external (TRELLIS_DATABASE_URL, TRELLIS_KAFKA_BOOTSTRAP)"
    if _docker_available():
        return "testcontainers (Docker engine reachable)"
    name = os.environ.get("TRELLIS_TEST_STACK_NAME", "test")
    return f"local processes (.trellis/{name}: Debian PostgreSQL 15, Apache Kafka KRaft)"


def _docker_available() -> bool:
    try:
        import docker
        import testcontainers.community  # noqa: F401
    except ImportError:
        return False
    try:
        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _containers(config: StackConfig):
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:15", driver=None) as pg,
        KafkaContainer().with_kraft() as kafka,
    ):
        config.external_admin_dsn = pg.get_connection_url()
        config.external_kafka = kafka.get_bootstrap_server()
        yield


@pytest.fixture(scope="session")
def stack() -> Any:
    """Postgres and Kafka running, the test database provisioned and every service migrated."""
    config = StackConfig.for_tests()
    choice = _describe_choice()
    _choice["mode"] = choice
    with contextlib.ExitStack() as cleanup:
        local = choice.startswith("local")
        if choice.startswith("testcontainers"):
            cleanup.enter_context(_containers(config))
        s = Stack(config)
        if local:
            s.down()
            # A fresh broker and database each run: no offsets or rows from an earlier run.
            for part in ("kafka", "postgres", "run", "logs", "gateway"):
                shutil.rmtree(config.state_dir / part, ignore_errors=True)
        s.start_infra()
        for service in SERVICES:
            s.migrate(service)
        yield s
        for service in SERVICES:
            s.stop_service(service)
        if s.gateway.running():
            s.gateway.stop()
        if local and not os.environ.get("TRELLIS_KEEP_TEST_STACK"):
            s.down()


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    return SPANS


def settings_for(stack: Stack, service: str, settings_cls: type[T], **overrides: Any) -> T:
    """Settings of an in-process service app joined to the test stack."""
    values: dict[str, Any] = dict(stack.service_settings(service))
    values.update(relay_poll_interval_s=0.2, consumer_backoff_s=0.05, consumer_backoff_max_s=0.5)
    values.update(overrides)
    return settings_cls(**values)


@asynccontextmanager
async def running_app(
    app: Any, *, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (relay, consumers) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def token(*, org: uuid.UUID, roles: list[str], sub: uuid.UUID | str | None = None) -> str:
    return mint_token(secret=DEV_JWT_SECRET, sub=str(sub or uuid.uuid4()), org=org, roles=roles)


def bearer(
    *, org: uuid.UUID, roles: list[str], sub: uuid.UUID | str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(org=org, roles=roles, sub=sub)}"}


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Poll `probe` until `until(result)` holds; fail with the last result otherwise."""
    deadline = time.monotonic() + timeout
    result = await probe()
    while not until(result):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {result!r}")
        await asyncio.sleep(interval)
        result = await probe()
    return result


async def _partitions(settings: Any, topics: list[str]) -> list[Any]:
    """Every partition of a service's topics, creating the topics it would create itself."""
    from aiokafka import TopicPartition

    from trellis_shared.kafka import ensure_topics, partitions_of

    bootstrap = settings.kafka_bootstrap
    await ensure_topics(bootstrap, topics, partitions=settings.topic_partitions)
    return [
        TopicPartition(topic, p) for topic in topics for p in await partitions_of(bootstrap, topic)
    ]


async def skip_history(settings: Any, topics: list[str]) -> None:
    """Commit a service's consumer group at the end of its topics, before the service starts.

    The events earlier modules of a run published belong to their own organizations. A suite
    whose tests need none of them can start after them instead of working through them first:
    notifications would otherwise welcome every person profiles' suites registered (some 12,000)
    before its first test. Only while the group has no members: a running
    service keeps its place, and `caught_up` waits for it as before.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    bootstrap = settings.kafka_bootstrap
    partitions = await _partitions(settings, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"trellis-{settings.service_name}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    except KafkaError as exc:  # members are active: they keep their offsets
        logging.getLogger(__name__).warning("history not skipped (%r); caught_up waits", exc)
    finally:
        await consumer.stop()


async def caught_up(app: Any, *, timeout: float = 300.0) -> None:
    """Wait until a started app's consumer has processed what its topics held when called.

    The test stack is shared by every module of a run, so a service's consumer group starts on
    everything earlier modules published (matching's runs, profiles' imports). Its first test
    should assert behaviour, not race that backlog. Offsets are committed after each fetch, so
    the group is caught up when its committed offsets reach the end offsets taken on entry.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    settings = app.state.settings
    topics = app.state.runtime.spec.subscriptions.topics
    bootstrap = settings.kafka_bootstrap
    partitions = await _partitions(settings, topics)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        ends = await probe.end_offsets(partitions)
        starts = await probe.beginning_offsets(partitions)
    finally:
        await probe.stop()
    wanted = {tp: end for tp, end in ends.items() if end > starts[tp]}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:

        async def behind() -> dict[str, int]:
            committed = await admin.list_consumer_group_offsets(
                f"trellis-{settings.service_name}", partitions=list(wanted)
            )
            lag: dict[str, int] = {}
            for tp, end in wanted.items():
                done = committed.get(tp)
                reached = done.offset if done is not None and done.offset >= 0 else starts[tp]
                missing = end - reached
                if missing > 0:
                    lag[f"{tp.topic}/{tp.partition}"] = missing
            return lag

        await eventually(behind, until=lambda lag: not lag, timeout=timeout, interval=0.5)
    finally:
        await admin.close()


@contextlib.contextmanager
def processes_with(stack: Stack, **env: str) -> Iterator[Stack]:
    """Every service as its own process behind the gateway, started with extra environment
    (e.g. a shorter health sweep); the stack's environment is restored afterwards."""
    extra = stack.config.extra_service_env
    before = dict(extra)
    extra.update(env)
    for service in SERVICES:
        # A process left by an earlier module would keep its own settings.
        stack.stop_service(service)
    try:
        for service in SERVICES:
            stack.start_service(service, wait=False)
        for service in SERVICES:
            stack.wait_ready(service)
        stack.gateway.start()
        yield stack
    finally:
        for service in SERVICES:
            stack.stop_service(service)
        extra.clear()
        extra.update(before)
