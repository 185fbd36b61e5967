"""One-call wiring of a service: telemetry, errors, auth, health, outbox relay, consumers."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trellis_shared import (
    contracts,  # noqa: F401  (registers every event contract)
    prometheus,
)
from trellis_shared.auth import TokenVerifier
from trellis_shared.db import Reader, create_engine, create_sessionmaker
from trellis_shared.events import EventContract, dlq_topic
from trellis_shared.idempotency import IdempotencyMiddleware
from trellis_shared.inbox import InboxConsumer, Subscriptions
from trellis_shared.kafka import create_consumer, create_producer, ensure_topics
from trellis_shared.limits import BodyLimitMiddleware
from trellis_shared.outbox import OutboxRelay
from trellis_shared.problems import install_problem_handlers
from trellis_shared.settings import ServiceSettings
from trellis_shared.telemetry import local_metric_reader, setup_telemetry

log = logging.getLogger("trellis.app")


@dataclass
class ServiceSpec:
    """What makes one service different from another; everything else is shared wiring."""

    name: str
    settings: ServiceSettings
    routers: Sequence[APIRouter]
    produces: Sequence[type[EventContract]] = ()
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    description: str = ""
    version: str = "0.1.0"
    # Long-running work of the service beside the relay and consumers (e.g. resuming jobs);
    # each is started with the runtime once topics exist, and cancelled at shutdown.
    background: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    # Routes (exact paths) that take more than the default 1 MiB body, e.g. a bulk upload.
    large_bodies: Mapping[str, int] = field(default_factory=dict)


@dataclass
class Runtime:
    """The live resources of a running service, on `app.state.runtime`."""

    spec: ServiceSpec
    engine: Any
    sessionmaker: Any
    # For GET and HEAD: no BEGIN/ROLLBACK round trips around their reads (see db.py).
    read_sessionmaker: Any
    relay: OutboxRelay
    consumer: InboxConsumer | None
    tasks: list[asyncio.Task] = field(default_factory=list)

    @functools.cached_property
    def reader(self) -> Reader:
        return Reader(self.engine)


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    setup_telemetry(
        settings.service_name,
        otlp_endpoint=settings.otlp_endpoint,
        log_level=settings.log_level,
        trace_file=settings.trace_file,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await _start(spec)
        app.state.runtime = runtime
        _freeze_startup_objects()
        try:
            yield
        finally:
            await _stop(runtime)

    app = FastAPI(
        title=f"Trellis {spec.name}",
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
        openapi_url=f"/{spec.name}/openapi.json",
        docs_url=f"/{spec.name}/docs",
        redoc_url=None,
        telemetry=TELEMETRY,
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, larger=spec.large_bodies)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(_health_router())
    for router in spec.routers:
        app.include_router(router)
    return app


_UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})

TELEMETRY: TelemetryConfig = {
    # One server span per request (`GET /profiles/people/{person_id}`, the semantic conventions'
    # attributes) and the `http.server.request.duration` histogram, from FastAPI itself: it names
    # the route it selected, where the contrib ASGI middleware looked the route up again by
    # walking every route (a quarter of a read's CPU went to that middleware). No span per
    # dependency or serialization step: nothing a reader of a trace needs, at a cost per request.
    "operation_spans": False,
    # Errors are logged by the problem handlers, with the trace id, as JSON lines.
    "logs": False,
    # Exporters are ours (telemetry.setup_telemetry), never taken from the environment twice.
    "auto_configure": False,
    "exclude": lambda scope: scope.get("path") in _UNTRACED,
}


@functools.cache
def _freeze_startup_objects() -> None:
    """Take what exists once a service has started (modules, the app, models, table metadata:
    ~160,000 objects) out of the garbage collector's full passes, once per process. Each of those
    passes walked all of them: ~90-130 ms in which matching's consumer did nothing else (5-24 ms
    after). What is frozen is still freed when nothing refers to it."""
    gc.collect()
    gc.freeze()


async def _start(spec: ServiceSpec) -> Runtime:
    settings = spec.settings
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine, settings)
    read_sessionmaker = create_sessionmaker(engine, settings, autocommit=True)
    client_id = f"trellis-{settings.service_name}"
    topics = [c.topic() for c in spec.produces]
    topics += [dlq_topic(t) for t in spec.subscriptions.topics]
    topics += spec.subscriptions.topics
    relay = OutboxRelay(
        engine=engine,
        producer_factory=lambda: create_producer(
            settings.kafka_bootstrap, client_id=f"{client_id}-relay"
        ),
        listen_dsn=asyncpg_dsn(settings.database_url),
        schema=settings.db_schema,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        retention_hours=settings.relay_retention_hours,
    )
    consumer = None
    if spec.subscriptions.handlers:
        consumer = InboxConsumer(
            name=settings.service_name,
            subscriptions=spec.subscriptions,
            sessionmaker=sessionmaker,
            consumer_factory=lambda ts: create_consumer(
                settings.kafka_bootstrap,
                *ts,
                group_id=f"trellis-{settings.service_name}",
                client_id=client_id,
            ),
            producer_factory=lambda: create_producer(
                settings.kafka_bootstrap, client_id=f"{client_id}-dlq"
            ),
            max_attempts=settings.consumer_max_attempts,
            backoff_s=settings.consumer_backoff_s,
            backoff_max_s=settings.consumer_backoff_max_s,
        )
    runtime = Runtime(
        spec=spec,
        engine=engine,
        sessionmaker=sessionmaker,
        read_sessionmaker=read_sessionmaker,
        relay=relay,
        consumer=consumer,
    )
    runtime.tasks.append(asyncio.create_task(_provision_then_run(settings, topics, runtime)))
    return runtime


async def _provision_then_run(
    settings: ServiceSettings, topics: list[str], runtime: Runtime
) -> None:
    # Topics first (a consumer of a missing topic would see nothing), but without blocking
    # start-up: while Kafka is down the service still serves reads and accepts writes.
    delay = 0.5
    while topics:
        try:
            await ensure_topics(
                settings.kafka_bootstrap, topics, partitions=settings.topic_partitions
            )
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("cannot provision topics yet (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
    work = [runtime.relay.run()]
    if runtime.consumer is not None:
        work.append(runtime.consumer.run())
    work += [task(runtime) for task in runtime.spec.background]
    await asyncio.gather(*work)


async def _stop(runtime: Runtime) -> None:
    # Each step is bounded: a broker that does not answer must not hold a shutdown forever.
    for task in runtime.tasks:
        task.cancel()
    if runtime.tasks:
        _, pending = await asyncio.wait(runtime.tasks, timeout=15)
        for task in pending:
            log.warning("background task %s did not stop within 15 s", task.get_name())
    closers = [runtime.relay.close()]
    if runtime.consumer is not None:
        closers.append(runtime.consumer.close())
    for closer in closers:
        try:
            await asyncio.wait_for(closer, 10)
        except Exception:
            log.warning("closing a Kafka client failed or timed out", exc_info=True)
    await runtime.engine.dispose()


class RequestIdMiddleware:
    """Carries the caller's X-Request-ID (or a new one) onto the request, its span and the response.

    Pure ASGI rather than BaseHTTPMiddleware, which costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("http.request_id", request_id)
        raw = request_id.encode("latin-1", "replace")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")[:200]
    return None


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: the database and Kafka are reachable")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            async with runtime.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(sa.text("SELECT 1")), 2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = await _kafka_check(runtime.spec.settings.kafka_bootstrap)
        checks["outbox_backlog"] = runtime.relay.backlog
        if runtime.relay.last_error:
            checks["outbox_last_error"] = runtime.relay.last_error
        if runtime.consumer is not None:
            checks["consumer_running"] = runtime.consumer.running
            checks["dead_lettered"] = runtime.consumer.dead_lettered_total
        ok = checks["database"] == "ok" and checks["kafka"] == "ok"
        checks["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
        )

    @router.get(
        "/metrics",
        summary="The process's OpenTelemetry metrics in the Prometheus text format",
        response_class=PlainTextResponse,
    )
    async def metrics() -> PlainTextResponse:
        text = prometheus.render(local_metric_reader())
        return PlainTextResponse(text, media_type=prometheus.CONTENT_TYPE)

    return router


async def _kafka_check(bootstrap: str) -> str:
    # A TCP connect to each bootstrap address is enough to say whether the broker is reachable.
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2)
            writer.close()
            return "ok"
        except (OSError, TimeoutError, ValueError):
            continue
    return "unreachable"
