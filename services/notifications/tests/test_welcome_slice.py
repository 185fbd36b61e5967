"""The first vertical slice in-process: profiles -> outbox -> Kafka -> notifications inbox.

Both apps run in this process against the real Postgres and Kafka, so every span of the slice
reaches the test's in-memory exporter.
"""

import uuid

import pytest

from trellis_infra.pytest_plugin import bearer, eventually, running_app, settings_for
from trellis_notifications.main import create_app as create_notifications
from trellis_notifications.settings import NotificationsSettings
from trellis_profiles.main import create_app as create_profiles
from trellis_profiles.settings import ProfilesSettings
from trellis_shared.contracts.profiles import PersonRegistered
from trellis_shared.events import dlq_topic, header_value
from trellis_shared.kafka import create_producer, read_topic


@pytest.fixture
async def apps(stack):
    profiles = create_profiles(settings_for(stack, "profiles", ProfilesSettings))
    notifications = create_notifications(
        settings_for(stack, "notifications", NotificationsSettings, consumer_max_attempts=2)
    )
    async with running_app(profiles) as p, running_app(notifications) as n:
        yield p, n


async def _register(profiles, org, **fields):
    body = {
        "full_name": "Ada Lovelace",
        "email": f"ada.{uuid.uuid4().hex[:8]}@example.org",
        **fields,
    }
    response = await profiles.post(
        "/profiles/people", json=body, headers=bearer(org=org, roles=["org_admin"])
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _inbox(notifications, org, person_id):
    response = await notifications.get(
        "/notifications/inbox", headers=bearer(org=org, roles=["member"], sub=person_id)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_registered_person_finds_a_welcome_in_their_inbox(apps):
    profiles, notifications = apps
    org = uuid.uuid4()
    person = await _register(profiles, org)

    inbox = await eventually(
        lambda: _inbox(notifications, org, person["id"]), until=lambda i: i["data"]
    )
    assert [item["kind"] for item in inbox["data"]] == ["welcome"]
    assert inbox["data"][0]["title"] == "Welcome to Trellis, Ada"
    assert inbox["unread_count"] == 1

    item_id = inbox["data"][0]["id"]
    read = await notifications.post(
        f"/notifications/inbox/{item_id}/read",
        headers=bearer(org=org, roles=["member"], sub=person["id"]),
    )
    assert read.status_code == 200 and read.json()["read_at"]
    stranger = await notifications.post(
        f"/notifications/inbox/{item_id}/read",
        headers=bearer(org=org, roles=["member"], sub=uuid.uuid4()),
    )
    assert stranger.status_code == 404
    assert (await _inbox(notifications, org, person["id"]))["unread_count"] == 0


async def test_the_same_event_delivered_twice_makes_one_inbox_item(apps, stack):
    profiles, notifications = apps
    org = uuid.uuid4()
    person = await _register(profiles, org)
    await eventually(lambda: _inbox(notifications, org, person["id"]), until=lambda i: i["data"])

    [original] = await read_topic(
        stack.kafka_bootstrap, PersonRegistered.topic(), key=person["id"].encode()
    )
    producer = create_producer(stack.kafka_bootstrap, client_id="test-redelivery")
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(
                original.topic,
                value=original.value,
                key=original.key,
                headers=list(original.headers),
            )
        # A marker event after the copies: once it is processed, the copies were processed too
        # (same key, same partition, consumed in order).
        marker = await _register(profiles, org, email=f"marker.{uuid.uuid4().hex[:6]}@example.org")
    finally:
        await producer.stop()
    await eventually(lambda: _inbox(notifications, org, marker["id"]), until=lambda i: i["data"])

    inbox = await _inbox(notifications, org, person["id"])
    assert len(inbox["data"]) == 1


async def test_a_poison_message_goes_to_the_dlq_while_good_ones_keep_flowing(apps, stack):
    profiles, notifications = apps
    org = uuid.uuid4()
    poison_key = f"poison-{uuid.uuid4()}".encode()
    producer = create_producer(stack.kafka_bootstrap, client_id="test-poison")
    await producer.start()
    try:
        await producer.send_and_wait(
            PersonRegistered.topic(),
            value=b"\x00not json at all",
            key=poison_key,
            headers=[("ce_type", PersonRegistered.event_type.encode()), ("ce_id", b"poison-1")],
        )
    finally:
        await producer.stop()
    people = [
        await _register(profiles, org, email=f"p{i}.{uuid.uuid4().hex[:6]}@example.org")
        for i in range(5)
    ]

    for person in people:
        await eventually(
            lambda p=person: _inbox(notifications, org, p["id"]), until=lambda i: i["data"]
        )
    dead = await eventually(
        lambda: read_topic(
            stack.kafka_bootstrap, dlq_topic(PersonRegistered.topic()), key=poison_key
        ),
        until=bool,
    )
    assert len(dead) == 1
    assert header_value(dead[0].headers, "dlq_reason") == "malformed"
    assert header_value(dead[0].headers, "dlq_consumer") == "notifications"
    assert "not a valid CloudEvent" in header_value(dead[0].headers, "dlq_error")
    assert dead[0].value == b"\x00not json at all"


async def test_the_slice_is_one_trace_across_both_services(apps, spans):
    profiles, notifications = apps
    org = uuid.uuid4()
    spans.clear()
    person = await _register(profiles, org)
    await eventually(lambda: _inbox(notifications, org, person["id"]), until=lambda i: i["data"])

    def _slice_spans():
        finished = spans.get_finished_spans()
        [http] = [
            s for s in finished if s.name == "POST /profiles/people" and s.kind.name == "SERVER"
        ]
        trace_id = http.context.trace_id
        return http, [s for s in finished if s.context.trace_id == trace_id]

    _http, in_trace = _slice_spans()
    names = {s.name for s in in_trace}
    assert "trellis.profiles.person publish" in names
    assert "trellis.profiles.person process" in names
    [process] = [s for s in in_trace if s.name == "trellis.profiles.person process"]
    assert process.attributes["messaging.consumer.group.name"] == "notifications"
    assert process.attributes["messaging.message.id"]
    # The consumer's database work is inside the consumer span, in the same trace.
    assert any(s.parent and s.parent.span_id == process.context.span_id for s in in_trace)
