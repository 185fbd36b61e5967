"""Webhooks benchmark (issue 6): deliveries per second to a local receiver.

Ours: events fanned out into delivery rows (not timed), then the worker's passes (`run_once`, as
many loops as the job runs) until every delivery has succeeded: claim with SKIP LOCKED, sign,
POST, record the attempt. Baseline: the same number of plain httpx POSTs of the same body to the
same receiver, with the same number in flight. The receiver is a bare ASGI app in its own process
that answers 204, so both sides pay the same for it. Rounds alternate so drift on a shared machine
hits both.

Usage: python tests/bench/run.py --only webhooks   (or this file alone: its own bench stack)
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))

from harness import Figure, free_port

from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.webhooks import signing
from trellis_notifications.webhooks.fanout import fan_out
from trellis_notifications.webhooks.models import WebhookDelivery, WebhookSubscription
from trellis_notifications.webhooks.worker import client_for, run_once
from trellis_shared.contracts import matching as m
from trellis_shared.db import create_engine, create_sessionmaker
from trellis_shared.events import Event

N = 2000
ROUNDS = 3
SEED_BATCH = 500


def bench_webhooks(stack, baseline: object, seconds: int) -> list[Figure]:
    stack.migrate("notifications")
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receive", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, receiver)
        return asyncio.run(_bench(stack, f"http://127.0.0.1:{port}/hooks"))
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


async def _bench(stack, url: str) -> list[Figure]:
    settings = NotificationsSettings(**stack.service_settings("notifications"))
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine, settings)
    in_flight = settings.webhook_batch_size * settings.webhook_loops
    ours, plain = [], []
    try:
        for _ in range(ROUNDS):
            body = await _seed(sessionmaker, url)
            plain.append(await _plain_posts(url, body, settings))
            ours.append(await _drain(sessionmaker, settings))
        _note(
            f"{N:,} deliveries per round; ours {[f'{t:.2f}' for t in ours]} s, "
            f"plain POSTs {[f'{t:.2f}' for t in plain]} s, {in_flight} in flight"
        )
    finally:
        await engine.dispose()
    return [
        Figure(
            f"webhook deliveries to a local receiver ({N:,}, {in_flight} in flight): claim + "
            "sign + POST + attempt log",
            N / statistics.median(ours),
            N / statistics.median(plain),
            "deliveries/s",
            "plain httpx POSTs, same body and receiver",
        )
    ]


async def _seed(sessionmaker, url: str) -> str:
    """A fresh subscription and N events fanned out to it (not timed); one payload, to size the
    baseline's body."""
    org = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        # The last round's subscription and its deliveries (the bench database is the bench's).
        await (await session.connection()).execute(sa.delete(WebhookSubscription))
        session.add(
            WebhookSubscription(
                organization_id=org,
                url=url,
                event_types=[m.MatchAccepted.event_type],
                secret=signing.new_secret(),
                created_by="bench",
            )
        )
    body = ""
    for start in range(0, N, SEED_BATCH):
        async with sessionmaker() as session, session.begin():
            for _ in range(start, min(N, start + SEED_BATCH)):
                event = Event.new(_accepted(), tenant=org, source="trellis/matching")
                await fan_out(session, [event])
                body = body or signing.body_of(event)
    return body


async def _drain(sessionmaker, settings: NotificationsSettings) -> float:
    """Seconds for the worker's loops to deliver every pending delivery."""

    clients = [client_for(settings) for _ in range(settings.webhook_loops)]

    async def loop(client: httpx.AsyncClient) -> None:
        while await run_once(sessionmaker, client):
            pass

    started = time.perf_counter()
    await asyncio.gather(*(loop(client) for client in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    async with sessionmaker() as session:
        done = await session.scalar(
            sa.select(sa.func.count()).where(WebhookDelivery.status == "succeeded")
        )
    if done != N:
        raise RuntimeError(f"only {done} of {N} deliveries succeeded")
    return elapsed


async def _plain_posts(url: str, body: str, settings: NotificationsSettings) -> float:
    """Seconds for N POSTs of `body` with plain httpx, shaped like the worker: one client per
    loop, a batch in flight on each."""
    batch, loops = settings.webhook_batch_size, settings.webhook_loops
    limits = httpx.Limits(max_connections=batch, max_keepalive_connections=batch)
    content = body.encode()
    headers = {"content-type": signing.CONTENT_TYPE}
    clients = [
        httpx.AsyncClient(
            limits=limits,
            timeout=settings.webhook_timeout_s,
            trust_env=False,
            follow_redirects=False,
        )
        for _ in range(loops)
    ]

    async def post(client: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        async with gate:
            response = await client.post(url, content=content, headers=headers)
            response.raise_for_status()

    gates = [asyncio.Semaphore(batch) for _ in range(loops)]
    started = time.perf_counter()
    await asyncio.gather(*(post(clients[i % loops], gates[i % loops]) for i in range(N)))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return elapsed


def _accepted() -> m.MatchAccepted:
    return m.MatchAccepted(
        match_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        score=0.8,
        accepted_at=datetime.now(UTC),
    )


async def _receiver(scope, receive, send) -> None:
    """The partner's endpoint, as cheap as an ASGI app gets: read the body, answer 204."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the webhook receiver exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the webhook receiver did not start")


def _note(text: str) -> None:
    print(f"  webhooks: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receive"]:
        import uvicorn

        uvicorn.run(
            _receiver,
            host="127.0.0.1",
            port=int(sys.argv[2]),
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    else:
        from harness import report
        from run import bench_stack

        bench = bench_stack()
        bench.start_infra()
        try:
            found = bench_webhooks(bench, None, 0)
        finally:
            bench.down()
        print(report(found, {}, Path(tempfile.gettempdir()) / "trellis-webhooks-bench"))
