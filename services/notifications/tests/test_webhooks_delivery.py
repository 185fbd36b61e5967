"""The webhook worker driven pass by pass (`run_once`): retries with backoff until a receiver
recovers, resend by hand, secret rotation, auto-disable after persistent failure, and SSRF
refusals in production mode — at registration and on the wire."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trellis_infra.pytest_plugin import bearer, eventually, settings_for
from trellis_notifications.main import create_app
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.webhooks import retries, signing
from trellis_notifications.webhooks.worker import client_for, run_once
from trellis_shared.auth import mint_token
from trellis_shared.contracts import matching as m
from trellis_shared.db import create_engine, create_sessionmaker
from trellis_shared.events import from_kafka
from trellis_shared.kafka import read_topic
from trellis_shared.settings import DEV_JWT_SECRET

ACCEPTED = m.MatchAccepted.event_type
HOOKS = "/notifications/webhooks"
SCALE = 0.0005  # caps of 2.5 ms, 150 ms, 0.9 s, 3.6 s ...; a 43 s window


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serve(server: uvicorn.Server) -> AsyncIterator[None]:
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


class Receiver:
    """A partner's endpoint on a free port: answers with the planned statuses, then 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/trellis"
        self.received: list[tuple[dict[str, str], str, int]] = []
        self.plan: list[int] = []
        self.always: int | None = None

    async def _hook(self, request: Request) -> Response:
        status = self.plan.pop(0) if self.plan else self.always or 200
        self.received.append((dict(request.headers), (await request.body()).decode(), status))
        return Response(status_code=status)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/hooks/trellis", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        async with serve(uvicorn.Server(config)):
            yield self


class Worker:
    """Runs delivery passes as the background job would, with the settings a test needs."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)

    async def run(self, **overrides: Any) -> int:
        settings = self.settings.model_copy(update=overrides)
        async with client_for(settings) as client:
            return await run_once(create_sessionmaker(self.engine, settings), client)

    async def until(self, probe, until, timeout: float = 60, **overrides: Any):
        async def step():
            await self.run(**overrides)
            return await probe()

        return await eventually(step, until=until, timeout=timeout, interval=0.05)


@pytest.fixture(scope="module")
def settings(stack) -> NotificationsSettings:
    # The app serves the API and consumes; the tests run the worker's passes themselves.
    return settings_for(
        stack,
        "notifications",
        NotificationsSettings,
        webhook_worker=False,
        webhook_retry_scale=SCALE,
        webhook_timeout_s=3,
    )


@pytest.fixture(scope="module")
async def served(settings) -> AsyncIterator[str]:
    port = free_port()
    async with serve(uvicorn.Server(uvicorn.Config(create_app(settings), port=port))):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def worker(settings) -> AsyncIterator[Worker]:
    running = Worker(settings)
    try:
        yield running
    finally:
        await running.engine.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().serving() as running:
        yield running


def admin(org: uuid.UUID, person: uuid.UUID | None = None) -> dict[str, str]:
    return bearer(org=org, roles=["org_admin"], sub=person)


def accepted() -> m.MatchAccepted:
    return m.MatchAccepted(
        match_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        accepted_at=datetime.now(UTC),
    )


async def subscribe(world, org, url, *, person=None, description="CRM sync") -> dict:
    response = await world.http.post(
        HOOKS,
        json={"url": url, "event_types": [ACCEPTED], "description": description},
        headers=admin(org, person),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def delivered(world, org, hook) -> dict:
    """The hook's one delivery, once the event has been fanned out to it."""
    [delivery] = await eventually(lambda: _log(world, org, hook), until=len)
    return delivery


async def _log(world, org, hook) -> list[dict]:
    response = await world.http.get(f"{HOOKS}/{hook['id']}/deliveries", headers=admin(org))
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _received(receiver: Receiver) -> list:
    return list(receiver.received)


def verified(secret: str, received: tuple) -> dict:
    headers, body, _ = received
    return Webhook(secret).verify(body, headers)


async def test_retries_with_backoff_until_the_receiver_recovers(world, worker):
    org = uuid.uuid4()
    receiver = Receiver()  # not listening yet: its port is closed
    hook = await subscribe(world, org, receiver.url)
    event = await world.publish(accepted(), org=org, source="trellis/matching")
    await delivered(world, org, hook)

    down = await worker.until(lambda: _log(world, org, hook), until=lambda d: d[0]["attempts"] >= 2)
    assert down[0]["status"] == "pending"
    # The next try waits a draw under the cap of the second failure (full jitter).
    wait = datetime.fromisoformat(down[0]["next_attempt_at"]) - datetime.fromisoformat(
        down[0]["last_attempt_at"]
    )
    assert timedelta(0) <= wait <= retries.CAPS[1] * SCALE
    assert all("ConnectError" in a["error"] for a in down[0]["attempt_log"])
    async with receiver.serving():
        receiver.plan = [503, 503]
        done = await worker.until(
            lambda: _log(world, org, hook), until=lambda d: d[0]["status"] == "succeeded"
        )
        for _ in range(3):
            await worker.run()  # nothing is due any more: nothing more is sent

    [delivery] = done
    assert [a["status_code"] for a in delivery["attempt_log"]] == [None, None, 503, 503, 200]
    assert [a["error"] for a in delivery["attempt_log"][2:]] == ["HTTP 503", "HTTP 503", None]
    assert delivery["attempts"] == 5 and delivery["last_status_code"] == 200
    assert [status for _, _, status in receiver.received] == [503, 503, 200]  # one success
    ids = {headers["webhook-id"] for headers, _, _ in receiver.received}
    assert ids == {delivery["id"]}  # the same webhook-id on every attempt
    for attempt in receiver.received:  # and a valid signature on every one
        assert verified(hook["secret"], attempt)["id"] == str(event.id)


async def test_resend_by_hand_sends_the_same_delivery_again(world, worker, receiver):
    org = uuid.uuid4()
    hook = await subscribe(world, org, receiver.url)
    await world.publish(accepted(), org=org, source="trellis/matching")
    first = await delivered(world, org, hook)
    await worker.until(lambda: _log(world, org, hook), until=lambda d: d[0]["status"] != "pending")
    resend = f"{HOOKS}/{hook['id']}/deliveries/{first['id']}/resend"
    response = await world.http.post(resend, headers=admin(org))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    [again] = await worker.until(
        lambda: _log(world, org, hook), until=lambda d: d[0]["attempts"] == 2
    )
    assert again["status"] == "succeeded" and again["id"] == first["id"]
    assert len(receiver.received) == 2
    (h1, b1, _), (h2, b2, _) = receiver.received
    assert h1["webhook-id"] == h2["webhook-id"] == first["id"] and b1 == b2
    for attempt in receiver.received:
        verified(hook["secret"], attempt)
    missing = f"{HOOKS}/{hook['id']}/deliveries/{uuid.uuid4()}/resend"
    assert (await world.http.post(missing, headers=admin(org))).status_code == 404


async def test_after_a_rotation_both_secrets_verify_during_the_overlap(world, worker, receiver):
    org = uuid.uuid4()
    hook = await subscribe(world, org, receiver.url)
    old = hook["secret"]
    rotated = await world.http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=admin(org))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    overlap_ends = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert timedelta(hours=23, minutes=59) < overlap_ends - datetime.now(UTC) <= timedelta(hours=24)
    shown = await world.http.get(f"{HOOKS}/{hook['id']}", headers=admin(org))
    assert (
        shown.json()["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]
    )

    await world.publish(accepted(), org=org, source="trellis/matching")
    await delivered(world, org, hook)
    await worker.until(lambda: _received(receiver), until=len)
    [(headers, body, _)] = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers) == Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


async def test_a_persistently_failing_endpoint_is_disabled_and_its_admin_told(
    stack, world, worker, receiver
):
    scale = 0.0001  # an 8.6 s retry window
    org = uuid.uuid4()
    person = await world.person(org, name="Ada Admin")
    hook = await subscribe(world, org, receiver.url, person=person, description="HR system")
    receiver.always = 500
    await world.publish(accepted(), org=org, source="trellis/matching")
    await delivered(world, org, hook)
    [failed] = await worker.until(
        lambda: _log(world, org, hook),
        until=lambda d: d[0]["status"] == "failed",
        webhook_retry_scale=scale,
    )
    assert failed["attempts"] >= 3 and failed["last_status_code"] == 500
    assert failed["attempt_log"][-1]["error"] == "HTTP 500"
    span = datetime.fromisoformat(failed["last_attempt_at"]) - datetime.fromisoformat(
        failed["first_attempt_at"]
    )
    assert span >= retries.WINDOW * scale  # retried for the whole window
    shown = (await world.http.get(f"{HOOKS}/{hook['id']}", headers=admin(org))).json()
    assert shown["status"] == "disabled"
    assert shown["disabled_reason"].startswith("every delivery attempt has failed since")

    records = await eventually(
        lambda: read_topic(
            stack.kafka_bootstrap, "trellis.notifications.webhook", key=hook["id"].encode()
        ),
        until=lambda r: len(r) >= 2,
    )
    events = [from_kafka(r.headers, r.key, r.value) for r in records]
    assert [e.type.split(".")[3] for e in events] == ["delivery_failed", "disabled"]
    assert events[0].data.delivery_id == uuid.UUID(failed["id"])
    assert events[0].data.attempts == failed["attempts"]
    assert events[0].data.source_event_type == ACCEPTED
    assert events[1].data.reason == shown["disabled_reason"] and events[1].tenant == org
    inbox = await eventually(
        lambda: world.inbox(org, person), until=lambda i: i["data"][0]["kind"] != "welcome"
    )
    assert inbox["data"][0]["kind"] == "webhook_disabled"
    assert inbox["data"][0]["title"] == "Webhook disabled: HR system"
    assert inbox["data"][0]["category"] == "account"
    assert receiver.url in inbox["data"][0]["body"]
    [email] = [e for e in await world.emails(person) if e["template"] == "webhook_disabled"]
    assert email["critical"] is True

    # While disabled: new events are not queued for it, and a resend is refused.
    resend = f"{HOOKS}/{hook['id']}/deliveries/{failed['id']}/resend"
    assert (await world.http.post(resend, headers=admin(org))).status_code == 409
    ignored = accepted()
    await world.publish(ignored, org=org, source="trellis/matching")
    # Its mentee's inbox item comes from the same transaction as any delivery row would: once it
    # is there, the event has been handled (a marker on another partition would prove nothing).
    await eventually(lambda: world.inbox(org, ignored.mentee_id), until=lambda i: i["data"])
    assert len(await _log(world, org, hook)) == 1
    # Back on once the endpoint is fixed; the lost delivery can be resent.
    receiver.always = None
    enabled = await world.http.post(f"{HOOKS}/{hook['id']}/enable", headers=admin(org))
    assert enabled.json()["status"] == "active" and enabled.json()["failing_since"] is None
    assert (await world.http.post(resend, headers=admin(org))).status_code == 202
    [done] = await worker.until(
        lambda: _log(world, org, hook), until=lambda d: d[0]["status"] == "succeeded"
    )
    assert done["attempts"] == failed["attempts"] + 1 and done["id"] == failed["id"]
    assert (
        verified(hook["secret"], receiver.received[-1])["data"]
        == json.loads(receiver.received[0][1])["data"]
    )


async def test_a_partners_disabled_webhook_reaches_every_org_admin_even_unsubscribed_ones(
    world, worker, receiver
):
    org = uuid.uuid4()
    keen = await world.person(org, name="Kim Keen")
    opted_out = await world.person(org, name="Otto Optout")
    registered = await world.person(org, name="Rae Registrar")
    member = await world.person(org, name="Mo Member")
    digest = "/notifications/admin-digest"
    for person, on in ((keen, True), (opted_out, True), (opted_out, False)):
        put = await world.http.put(digest, json={"enabled": on}, headers=admin(org, person))
        assert put.status_code == 200, put.text
    # Otto also switched the at-risk category off on both channels.
    off = {"inbox": False, "email": False}
    prefs = await world.http.put(
        "/notifications/preferences",
        json={"channels": {"program_admin": off}},
        headers=admin(org, opted_out),
    )
    assert prefs.status_code == 200, prefs.text
    # Rae once registered (and dropped) a webhook: that is how notifications knows her as an admin.
    own = await subscribe(world, org, "http://127.0.0.1:9/elsewhere", person=registered)
    assert (await world.http.delete(f"{HOOKS}/{own['id']}", headers=admin(org))).status_code == 204
    partner = mint_token(
        secret=DEV_JWT_SECRET,
        sub="crm-sync-client",
        org=org,
        roles=["partner"],
        scope=["webhooks:manage"],
    )
    created = await world.http.post(
        HOOKS,
        json={"url": receiver.url, "event_types": [ACCEPTED], "description": "CRM sync"},
        headers={"Authorization": f"Bearer {partner}"},
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    receiver.always = 500
    await world.publish(accepted(), org=org, source="trellis/matching")
    await delivered(world, org, hook)
    await worker.until(
        lambda: _log(world, org, hook),
        until=lambda d: d[0]["status"] == "failed",
        webhook_retry_scale=0.0001,
    )

    for person in (keen, opted_out, registered):
        inbox = await eventually(
            lambda p=person: world.inbox(org, p),
            until=lambda i: any(x["kind"] == "webhook_disabled" for x in i["data"]),
        )
        [item] = [x for x in inbox["data"] if x["kind"] == "webhook_disabled"]
        assert item["title"] == "Webhook disabled: CRM sync"
        [email] = [e for e in await world.emails(person) if e["template"] == "webhook_disabled"]
        assert (email["critical"], email["status"]) == (True, "queued")
    assert [e for e in await world.emails(member) if e["template"] == "webhook_disabled"] == []
    assert all(x["kind"] != "webhook_disabled" for x in (await world.inbox(org, member))["data"])


async def test_production_refuses_private_targets_at_registration_and_on_the_wire(
    settings, world, worker, receiver
):
    production = settings.model_copy(update={"environment": "production"})
    app = create_app(production)
    # The production app serves requests only: no lifespan, so it never joins the consumer group.
    app.state.runtime = SimpleNamespace(
        engine=worker.engine, sessionmaker=create_sessionmaker(worker.engine, production)
    )
    org = uuid.uuid4()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://production"
    ) as client:
        for url, why in (
            ("http://93.184.215.14/hooks", "only https"),
            ("https://127.0.0.1/hooks", "loopback"),
            ("https://localhost:8443/hooks", "loopback"),
            ("https://10.1.2.3/hooks", "private"),
            ("https://192.168.0.10/hooks", "private"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[fd12:3456::1]/hooks", "unique-local"),
            ("https://[::ffff:172.16.0.1]/hooks", "private"),
            ("https://224.0.0.1/hooks", "multicast"),
            ("ftp://example.org/hooks", "only http and https"),
        ):
            response = await client.post(
                HOOKS, json={"url": url, "event_types": [ACCEPTED]}, headers=admin(org)
            )
            assert response.status_code == 422, (url, response.text)
            [error] = response.json()["errors"]
            assert error["field"] == "body.url" and why in error["message"], (url, error)
        public = await client.post(
            HOOKS,
            json={"url": "https://93.184.215.14/hooks", "event_types": [ACCEPTED]},
            headers=admin(org),
        )
        assert public.status_code == 201, public.text
        await client.delete(f"{HOOKS}/{public.json()['id']}", headers=admin(org))

    # Registered while the host was fine (here: in development), refused when it is sent.
    hook = await subscribe(world, org, receiver.url)
    await world.publish(accepted(), org=org, source="trellis/matching")
    await delivered(world, org, hook)
    [refused] = await worker.until(
        lambda: _log(world, org, hook),
        until=lambda d: d[0]["attempts"] >= 1,
        environment="production",
    )
    assert refused["status"] == "pending" and receiver.received == []
    assert "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address" in refused["last_error"]
    await world.http.delete(f"{HOOKS}/{hook['id']}", headers=admin(org))
