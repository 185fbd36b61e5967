"""The CloudEvents codec and the contract registry."""

import uuid
from datetime import UTC, datetime

import pytest

from trellis_shared.contracts.profiles import PersonRegistered
from trellis_shared.events import (
    Event,
    EventContract,
    MalformedEvent,
    contract_for,
    dlq_topic,
    event,
    from_kafka,
    to_kafka,
    topic_of,
)


def _registered() -> Event[PersonRegistered]:
    return Event.new(
        PersonRegistered(
            person_id=uuid.uuid4(),
            full_name="Ada Lovelace",
            email="ada@example.org",
            time_zone="Europe/London",
            locale="en-GB",
            registered_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        ),
        tenant=uuid.uuid4(),
        source="trellis/profiles",
    )


def _headers(message) -> list[tuple[str, bytes]]:
    return list(message.headers.items())


def test_binary_mode_round_trip_keeps_every_attribute():
    original = _registered()
    message = to_kafka(original)

    assert message.key == str(original.data.person_id)
    assert message.headers["ce_type"] == b"trellis.profiles.person.registered.v1"
    assert message.headers["ce_tenant"] == str(original.tenant).encode()
    assert message.headers["content-type"] == b"application/json"

    decoded = from_kafka(_headers(message), message.key.encode(), message.value)
    assert decoded == original


def test_topic_and_dlq_names_follow_the_convention():
    assert PersonRegistered.topic() == "trellis.profiles.person"
    assert topic_of("trellis.sessions.meeting.rescheduled.v2") == "trellis.sessions.meeting"
    assert dlq_topic("trellis.profiles.person") == "trellis.profiles.person.dlq"
    assert contract_for("trellis.profiles.person.registered.v1") is PersonRegistered


@pytest.mark.parametrize(
    "bad_type",
    ["profiles.person.registered", "trellis.profiles.person.registered", "trellis.X.y.z.v1"],
)
def test_event_types_outside_the_convention_are_refused(bad_type):
    with pytest.raises(ValueError):

        @event(bad_type, subject="id")
        class Bad(EventContract):
            id: str


def test_consumers_ignore_fields_added_by_a_newer_producer():
    message = to_kafka(_registered())
    value = message.value.replace(b"{", b'{"pronouns": "she/her", ', 1)
    decoded = from_kafka(_headers(message), None, value)
    assert decoded.data.full_name == "Ada Lovelace"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: ([], v), "not a valid CloudEvent"),
        (lambda h, v: (h, b"not json{"), "not JSON"),
        (
            lambda h, v: ([(k, b"nope") if k == "ce_tenant" else (k, x) for k, x in h], v),
            "CloudEvent",
        ),
        (lambda h, v: (h, b'{"person_id": "x"}'), "does not match"),
        (
            lambda h, v: (
                [
                    (k, b"trellis.profiles.person.unknown.v1") if k == "ce_type" else (k, x)
                    for k, x in h
                ],
                v,
            ),
            "unknown event type",
        ),
        (lambda h, v: ([(k, x) for k, x in h if k != "ce_source"], v), "missing source"),
        (lambda h, v: (_replace(h, "ce_specversion", b"0.3"), v), "specversion '0.3'"),
        (lambda h, v: (_replace(h, "ce_id", b"\xff\xfe"), v), "ce_id is not UTF-8"),
        (lambda h, v: (_replace(h, "ce_time", b"yesterday"), v), "not an RFC 3339"),
        (lambda h, v: (_replace(h, "ce_time", b"2026-11-27T09:00:00"), v), "not an RFC 3339"),
        (lambda h, v: (_replace(h, "content-type", b"text/plain"), v), "not JSON"),
        (lambda h, v: (h, b""), "not JSON"),
    ],
)
def test_malformed_messages_are_named_as_such(mutate, reason):
    message = to_kafka(_registered())
    headers, value = mutate(_headers(message), message.value)
    with pytest.raises(MalformedEvent, match=reason):
        from_kafka(headers, None, value)


def test_a_binary_mode_event_from_another_producer_is_read_as_the_spec_allows():
    message = to_kafka(_registered())
    headers = _replace(
        _replace(_headers(message), "content-type", b"application/json; charset=utf-8"),
        "ce_time",
        b"2026-11-27T11:00:00.5+02:00",
    )
    headers = [(k, x) for k, x in headers if k != "ce_subject"] + [("x-other", b"\xff")]
    decoded = from_kafka(headers, None, message.value)
    assert decoded.time == datetime(2026, 11, 27, 9, 0, 0, 500000, tzinfo=UTC)
    assert decoded.subject == str(decoded.data.person_id)  # the data's own subject field


def _replace(headers, name: str, raw: bytes) -> list[tuple[str, bytes]]:
    return [(k, raw if k == name else x) for k, x in headers]


def test_a_contract_may_not_shadow_the_attributes_that_route_it():
    class Shadowing(EventContract):
        thing_id: uuid.UUID
        event_type: str  # would replace the registered type: the event would go astray

    with pytest.raises(ValueError, match="event_type"):
        event("trellis.tests.thing.happened.v1", subject="thing_id")(Shadowing)
