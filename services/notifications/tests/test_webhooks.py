"""Partner webhooks through the API, with the delivery worker running as in production: an event
reaches a partner's endpoint as a signed CloudEvent, once; secrets are shown once; bad input is
422 naming the field; another organization's webhooks are not found."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trellis_infra.pytest_plugin import bearer, eventually, settings_for
from trellis_notifications.main import create_app
from trellis_notifications.settings import NotificationsSettings
from trellis_shared.auth import mint_token
from trellis_shared.contracts import matching as m
from trellis_shared.events import to_kafka
from trellis_shared.settings import DEV_JWT_SECRET

ACCEPTED = m.MatchAccepted.event_type
HOOKS = "/notifications/webhooks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A partner's endpoint on a free port: answers with the planned statuses, then 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/trellis"
        self.received: list[tuple[dict[str, str], str]] = []
        self.plan: list[int] = []

    async def _hook(self, request: Request) -> Response:
        self.received.append((dict(request.headers), (await request.body()).decode()))
        return Response(status_code=self.plan.pop(0) if self.plan else 200)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/hooks/trellis", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        async with serve(uvicorn.Server(config)):
            yield self


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


@pytest.fixture(scope="module")
async def served(stack) -> AsyncIterator[str]:
    """Notifications with the webhook worker on, and retries shrunk to a few seconds."""
    settings = settings_for(
        stack,
        "notifications",
        NotificationsSettings,
        webhook_retry_scale=0.001,
        webhook_poll_interval_s=0.2,
    )
    port = free_port()
    config = uvicorn.Config(create_app(settings), port=port, log_level="warning")
    async with serve(uvicorn.Server(config)):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().serving() as running:
        yield running


def admin(org: uuid.UUID, person: uuid.UUID | None = None) -> dict[str, str]:
    return bearer(org=org, roles=["org_admin"], sub=person)


def partner(org: uuid.UUID, *scope: str) -> dict[str, str]:
    token = mint_token(
        secret=DEV_JWT_SECRET, sub="crm-sync-client", org=org, roles=["partner"], scope=list(scope)
    )
    return {"Authorization": f"Bearer {token}"}


def accepted(match_id: uuid.UUID | None = None) -> m.MatchAccepted:
    return m.MatchAccepted(
        match_id=match_id or uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        score=0.8,
        accepted_at=datetime.now(UTC),
    )


async def subscribe(world, org, url, types, headers=None) -> dict:
    response = await world.http.post(
        HOOKS,
        json={"url": url, "event_types": types, "description": "CRM sync"},
        headers=headers or admin(org),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(world, org, hook_id) -> list[dict]:
    response = await world.http.get(f"{HOOKS}/{hook_id}/deliveries", headers=admin(org))
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_subscribed_event_reaches_the_partner_once_as_a_signed_cloud_event(world, receiver):
    org, other_org = uuid.uuid4(), uuid.uuid4()
    hook = await subscribe(world, org, receiver.url, [ACCEPTED])
    data = accepted()
    # Same key, so same partition: these are handled before the one that must arrive.
    declined = m.MatchDeclined(
        **data.model_dump(include={"match_id", "program_id", "mentor_id", "mentee_id"}),
        declined_by="mentor",
        declined_at=datetime.now(UTC),
    )
    await world.publish(declined, org=org, source="trellis/matching")  # not subscribed
    await world.publish(data, org=other_org, source="trellis/matching")  # another tenant
    event = await world.publish(data, org=org, source="trellis/matching")

    [(headers, body)] = await eventually(lambda: _received(receiver), until=len)
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert payload == {
        "specversion": "1.0",
        "id": str(event.id),
        "source": "trellis/matching",
        "type": ACCEPTED,
        "subject": str(data.match_id),
        "time": payload["time"],
        "tenant": str(org),
        "datacontenttype": "application/json",
        "data": data.model_dump(mode="json"),
    }
    assert datetime.fromisoformat(payload["time"]) == event.time
    assert headers["content-type"].startswith("application/cloudevents+json")
    log = await eventually(
        lambda: deliveries(world, org, hook["id"]),
        until=lambda d: d and d[0]["status"] == "succeeded",
    )
    assert log[0]["id"] == headers["webhook-id"] and log[0]["event_id"] == str(event.id)
    assert log[0]["attempts"] == 1 and log[0]["last_status_code"] == 200
    assert log[0]["attempt_log"][0]["status_code"] == 200
    assert log[0]["attempt_log"][0]["duration_ms"] > 0

    # The same event again (a redelivery) adds nothing; a later one on the same key shows that
    # the consumer got past it.
    message = to_kafka(event)
    await world.producer.send_and_wait(
        event.topic,
        value=message.value,
        key=message.key.encode(),
        headers=[*message.headers.items()],
    )
    later = await world.publish(accepted(data.match_id), org=org, source="trellis/matching")
    await eventually(lambda: _received(receiver), until=lambda r: len(r) >= 2)
    assert [json.loads(b)["id"] for _, b in receiver.received] == [str(event.id), str(later.id)]
    assert len(await deliveries(world, org, hook["id"])) == 2


async def _received(receiver: Receiver) -> list:
    return list(receiver.received)


async def test_the_secret_is_shown_once_and_only_to_managers(world, receiver):
    org = uuid.uuid4()
    created = await world.http.post(
        HOOKS,
        json={"url": receiver.url, "event_types": [ACCEPTED]},
        headers=partner(org, "webhooks:manage"),
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    assert created.headers["location"] == f"{HOOKS}/{created.json()['id']}"
    secret = created.json()["secret"]
    listed = await world.http.get(HOOKS, headers=admin(org))
    one = await world.http.get(f"{HOOKS}/{created.json()['id']}", headers=admin(org))
    assert listed.status_code == 200 and one.status_code == 200
    assert secret not in listed.text and secret not in one.text
    assert all("secret" not in item for item in [*listed.json()["data"], one.json()])
    assert [h["id"] for h in listed.json()["data"]] == [created.json()["id"]]
    rotated = await world.http.post(
        f"{HOOKS}/{created.json()['id']}/rotate-secret", headers=admin(org)
    )
    assert rotated.status_code == 200 and rotated.json()["secret"] not in (secret, None)
    assert rotated.json()["secret"] not in (await world.http.get(HOOKS, headers=admin(org))).text

    body = {"url": receiver.url, "event_types": [ACCEPTED]}
    for headers in (
        partner(org),
        partner(org, "webhooks:read"),
        bearer(org=org, roles=["member"], sub=uuid.uuid4()),
    ):
        assert (await world.http.post(HOOKS, json=body, headers=headers)).status_code == 403
        assert (await world.http.get(HOOKS, headers=headers)).status_code == 403


async def test_bad_subscriptions_are_422_naming_the_field(world):
    org = uuid.uuid4()
    good = {"url": "http://127.0.0.1:9/hook", "event_types": [ACCEPTED]}
    for change, field in (
        ({"event_types": [ACCEPTED, "trellis.matching.match.vanished.v1"]}, "body.event_types.1"),
        ({"event_types": ["match.accepted"]}, "body.event_types.0"),
        ({"event_types": ["trellis.notifications.webhook.disabled.v1"]}, "body.event_types.0"),
        ({"event_types": []}, "body.event_types"),
        ({"url": "ftp://example.org/hook"}, "body.url"),
        ({"url": "javascript:alert(1)"}, "body.url"),
        ({"url": "http://"}, "body.url"),
        ({"url": "http://example.org/" + "x" * 2000}, "body.url"),
        ({"description": "x" * 501}, "body.description"),
        ({"secret": "whsec_mine"}, "body.secret"),
    ):
        response = await world.http.post(HOOKS, json=good | change, headers=admin(org))
        assert response.status_code == 422, (change, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, (field, response.text)
    unknown = await world.http.post(
        HOOKS,
        json=good | {"event_types": ["trellis.matching.match.vanished.v1"]},
        headers=admin(org),
    )
    assert "unknown event type" in unknown.json()["errors"][0]["message"]
    assert (await world.http.get(HOOKS, headers=admin(org))).json()["data"] == []


async def test_another_organizations_webhook_is_not_found(world, receiver):
    org, intruder = uuid.uuid4(), uuid.uuid4()
    hook = await subscribe(world, org, receiver.url, [ACCEPTED])
    await world.publish(accepted(), org=org, source="trellis/matching")
    [delivery] = await eventually(lambda: deliveries(world, org, hook["id"]), until=len)
    theirs = f"{HOOKS}/{hook['id']}"
    for method, path in (
        ("GET", theirs),
        ("DELETE", theirs),
        ("POST", f"{theirs}/rotate-secret"),
        ("POST", f"{theirs}/enable"),
        ("GET", f"{theirs}/deliveries"),
        ("POST", f"{theirs}/deliveries/{delivery['id']}/resend"),
    ):
        response = await world.http.request(method, path, headers=admin(intruder))
        assert response.status_code == 404, (method, path, response.text)
    assert (await world.http.get(HOOKS, headers=admin(intruder))).json()["data"] == []
    # Their delivery under one's own webhook is not found either.
    mine = await subscribe(world, intruder, receiver.url, [ACCEPTED])
    resend = await world.http.post(
        f"{HOOKS}/{mine['id']}/deliveries/{delivery['id']}/resend", headers=admin(intruder)
    )
    assert resend.status_code == 404
    assert (await world.http.get(theirs, headers=admin(org))).status_code == 200


async def test_a_deleted_webhook_is_gone_with_its_log(world, receiver):
    org = uuid.uuid4()
    hook = await subscribe(world, org, receiver.url, [ACCEPTED])
    await world.publish(accepted(), org=org, source="trellis/matching")
    await eventually(lambda: deliveries(world, org, hook["id"]), until=len)
    assert (await world.http.delete(f"{HOOKS}/{hook['id']}", headers=admin(org))).status_code == 204
    assert (await world.http.get(f"{HOOKS}/{hook['id']}", headers=admin(org))).status_code == 404
    rows = await world.rows(
        "SELECT id FROM webhook_delivery WHERE subscription_id = :s", s=hook["id"]
    )
    assert rows == []
