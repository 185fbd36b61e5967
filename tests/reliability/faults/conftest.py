"""Fault tests' fixtures: the platform as processes with a test module's own settings, callers that
retry the way a careful client does (same Idempotency-Key), a partner endpoint that can go down,
and probes of what the services hold (readiness, metrics, consumer lag)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import jwt
import pytest
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trellis_infra.pytest_plugin import processes_with
from trellis_infra.stack import SERVICES, Stack
from trellis_shared.settings import DEV_JWT_SECRET

# Answers after which a careful client sends the same request again with the same key: the
# gateway's rate limit, a service or database away, a first attempt still being processed.
RETRYABLE = {429, 500, 502, 503, 504}
T = TypeVar("T")


@pytest.fixture(scope="module")
def platform(stack, request):
    """The platform with the test module's `SERVICE_ENV` (e.g. a short webhook retry schedule)."""
    if stack.config.external_kafka or stack.config.external_admin_dsn:
        pytest.skip(reason="fault tests stop and kill the local broker and database")
    with processes_with(stack, **getattr(request.module, "SERVICE_ENV", {})) as running:
        yield running


async def restart(start: Callable[[], None], *, tries: int = 5) -> None:
    """Start the broker or the database again, retrying a port that is briefly taken: the test
    ports lie in Linux's ephemeral range, so an outgoing connection may hold one for a moment."""
    for attempt in range(tries):
        try:
            await asyncio.to_thread(start)
            return
        except RuntimeError as exc:
            if "in use" not in str(exc) or attempt == tries - 1:
                raise
            await asyncio.sleep(3)


def session_token(*, org: uuid.UUID | str, roles: list[str], sub: uuid.UUID | str) -> str:
    """A token of its own for one client session: the gateway limits the rate per token, and a
    `jti` tells apart two sessions of the same person opened in the same second."""
    now = int(time.time())
    claims = {
        "sub": str(sub),
        "org": str(org),
        "roles": roles,
        "iat": now,
        "exp": now + 4 * 3600,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")


class Actor:
    """Someone calling the API with one token, e.g. an org admin or a member (`sub` = person)."""

    def __init__(self, org: uuid.UUID, roles: list[str], sub: uuid.UUID | str | None = None):
        self.org = org
        self.sub = str(sub or uuid.uuid4())
        token = session_token(org=org, roles=roles, sub=self.sub)
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    def admin(cls, org: uuid.UUID) -> Actor:
        return cls(org, ["org_admin"])

    @classmethod
    def member(cls, org: uuid.UUID, person_id: str | uuid.UUID) -> Actor:
        return cls(org, ["member"], person_id)


class Retrier:
    """Sends a request until it gets an answer that is not about the platform's health, with the
    same Idempotency-Key each time, and counts what it had to ride out."""

    def __init__(self, client: httpx.AsyncClient, *, give_up_after: float = 240.0) -> None:
        self.client = client
        self.give_up_after = give_up_after
        self.retried: Counter[str] = Counter()
        self.sent = 0  # attempts, retries included

    async def send(
        self,
        method: str,
        url: str,
        actor: Actor,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = actor.headers | (headers or {})
        if method != "GET":
            headers["Idempotency-Key"] = key or uuid.uuid4().hex
        deadline = time.monotonic() + self.give_up_after
        delay = 0.2
        while True:
            self.sent += 1
            try:
                response = await self.client.request(
                    method, url, json=json, params=params, headers=headers
                )
                if response.status_code in RETRYABLE:
                    reason = "429" if response.status_code == 429 else "5xx"
                elif _in_progress(response):
                    reason = "409 in progress"
                else:
                    return response
            except httpx.TransportError as exc:
                reason = f"connection ({type(exc).__name__})"
            self.retried[reason] += 1
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method} {url}: still {reason} after {self.give_up_after:.0f}s "
                    f"(key {headers.get('Idempotency-Key')})"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def _in_progress(response: httpx.Response) -> bool:
    return response.status_code == 409 and "idempotency-in-progress" in response.text


async def settled(
    probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool], timeout: float, interval=1.0
) -> T:
    """Like `eventually`, but hands back the last result instead of failing, so that a test can
    print its figures (lost, duplicated) before it asserts them."""
    deadline = time.monotonic() + timeout
    result = await probe()
    while not until(result) and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        result = await probe()
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A partner's endpoint that verifies every delivery's Standard Webhooks signature, keeps
    what it verified, and can be taken down (its port closed) and brought back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/trellis"
        self.secrets: dict[str, str] = {}  # tenant -> secret
        self.verified: list[tuple[str, dict]] = []  # (webhook-id, CloudEvent)
        self.refused: list[str] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            tenant = json.loads(body)["tenant"]
            event = Webhook(self.secrets[tenant]).verify(body, dict(request.headers))
        except Exception as exc:  # a bad signature must show in the test, not kill the server
            self.refused.append(f"{exc!r}: {body[:200]!r}")
            return Response(status_code=400)
        self.verified.append((request.headers["webhook-id"], json.loads(body) | event))
        return Response(status_code=204)

    async def up(self) -> None:
        app = Starlette(routes=[Route("/hooks/trellis", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def down(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    def ids_by_event(self) -> dict[str, set[str]]:
        """Each event id with the distinct webhook-ids it arrived under."""
        found: dict[str, set[str]] = {}
        for webhook_id, event in self.verified:
            found.setdefault(event["id"], set()).add(webhook_id)
        return found


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.up()
    try:
        yield running
    finally:
        await running.down()


async def subscribe_everything(
    retrier: Retrier, admin: Actor, receiver: Receiver, *, description: str = "faults"
) -> dict:
    """A webhook subscription of the admin's organization to every event a partner may take."""
    from trellis_shared.events import registered_contracts

    offered = sorted(t for t in registered_contracts() if not t.startswith("trellis.notifications"))
    response = await retrier.send(
        "POST",
        "/notifications/webhooks",
        admin,
        json={"url": receiver.url, "event_types": offered, "description": description},
    )
    assert response.status_code == 201, response.text
    hook = response.json()
    receiver.secrets[str(admin.org)] = hook["secret"]
    return hook


async def readyz(stack: Stack, service: str) -> dict:
    async with httpx.AsyncClient(base_url=stack.service_url(service), timeout=10) as client:
        return (await client.get("/readyz")).json()


async def metrics(stack: Stack, service: str) -> dict[str, float]:
    """A service's `/metrics`, as {'name{labels}': value}."""
    async with httpx.AsyncClient(base_url=stack.service_url(service), timeout=10) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def consumed_topics(service: str) -> list[str]:
    """The topics a service's consumer group reads."""
    import importlib

    return importlib.import_module(f"trellis_{service}.handlers").subscriptions.topics


async def group_lag(stack: Stack) -> dict[str, int]:
    """Messages each service's consumer group has not committed yet, over its topics."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from trellis_shared.kafka import committed_offsets, partitions_of

    wanted = {
        service: [
            TopicPartition(topic, p)
            for topic in consumed_topics(service)
            for p in await partitions_of(stack.kafka_bootstrap, topic)
        ]
        for service in SERVICES
    }
    probe = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        ends = await probe.end_offsets(sorted({tp for tps in wanted.values() for tp in tps}))
    finally:
        await probe.stop()
    lag = {}
    for service, partitions in wanted.items():
        committed = await committed_offsets(stack.kafka_bootstrap, f"trellis-{service}", partitions)
        lag[service] = sum(ends[tp] - max(0, committed.get(tp, 0)) for tp in partitions)
    return lag


@asynccontextmanager
async def database(stack: Stack) -> AsyncIterator[Any]:
    """A superuser connection to the test database, to read what a service holds."""
    import asyncpg

    conn = await asyncpg.connect(stack.admin_dsn, database=stack.config.database)
    try:
        yield conn
    finally:
        await conn.close()
