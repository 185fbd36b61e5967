"""Event contracts and the CloudEvents 1.0 envelope they travel in over Kafka (binary mode).

A contract is a pydantic model registered under its type
`trellis.<service>.<entity>.<past-tense-action>.v<N>`. Its topic is `trellis.<service>.<entity>`,
its key (and CloudEvents `subject`) the id named by `subject`. Changes to a contract are
additive only; a breaking change is a new class with the next version.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict

_TYPE_RE = re.compile(r"^trellis\.([a-z_]+)\.([a-z_]+)\.([a-z_]+)\.v([1-9][0-9]*)$")
_FORMAT = JSONFormat()
TENANT_ATTR = "tenant"
TRACEPARENT_HEADER = "traceparent"


class EventContract(BaseModel):
    """Base of every event's data. Unknown fields are ignored so consumers tolerate additions."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    subject_field: ClassVar[str]

    @classmethod
    def topic(cls) -> str:
        return topic_of(cls.event_type)

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


_REGISTRY: dict[str, type[EventContract]] = {}
C = TypeVar("C", bound=EventContract)


def event(event_type: str, *, subject: str) -> Callable[[type[C]], type[C]]:
    """Register a contract class under its CloudEvents type."""
    if not _TYPE_RE.match(event_type):
        raise ValueError(f"event type {event_type!r} is not trellis.<service>.<entity>.<action>.vN")

    def register(cls: type[C]) -> type[C]:
        if subject not in cls.model_fields:
            raise ValueError(f"{cls.__name__} has no field {subject!r} to use as subject")
        # Fields with these names would shadow the class attributes that route the event.
        if reserved := {"event_type", "subject_field"} & set(cls.model_fields):
            raise ValueError(f"{cls.__name__} may not have fields named {sorted(reserved)}")
        existing = _REGISTRY.get(event_type)
        if existing is not None and existing is not cls:
            raise ValueError(f"{event_type} is registered twice")
        cls.event_type = event_type
        cls.subject_field = subject
        _REGISTRY[event_type] = cls
        return cls

    return register


def contract_for(event_type: str) -> type[EventContract] | None:
    return _REGISTRY.get(event_type)


def registered_contracts() -> dict[str, type[EventContract]]:
    return dict(_REGISTRY)


def topic_of(event_type: str) -> str:
    match = _TYPE_RE.match(event_type)
    if not match:
        raise ValueError(f"not a Trellis event type: {event_type!r}")
    return f"trellis.{match.group(1)}.{match.group(2)}"


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


T = TypeVar("T", bound=EventContract)


@dataclass(frozen=True)
class Event(Generic[T]):
    """A received or outgoing event: the CloudEvents attributes plus typed data."""

    id: uuid.UUID
    type: str
    source: str
    subject: str
    tenant: uuid.UUID
    time: datetime
    data: T

    @classmethod
    def new(cls, data: T, *, tenant: uuid.UUID, source: str) -> Event[T]:
        return cls(
            id=uuid.uuid4(),
            type=data.event_type,
            source=source,
            subject=data.subject(),
            tenant=tenant,
            time=datetime.now(UTC),
            data=data,
        )

    @property
    def topic(self) -> str:
        return topic_of(self.type)


class MalformedEvent(ValueError):
    """A message that is not a Trellis CloudEvent (bad headers, not JSON, invalid data)."""


def to_kafka(event_: Event[Any]) -> KafkaMessage:
    """Binary content mode: attributes in `ce_*` headers, JSON data in the value, key = subject."""
    cloud_event = CloudEvent(
        attributes={
            "id": str(event_.id),
            "type": event_.type,
            "source": event_.source,
            "subject": event_.subject,
            "time": event_.time,
            "datacontenttype": "application/json",
            TENANT_ATTR: str(event_.tenant),
        },
        data=event_.data.model_dump(mode="json"),
    )
    return to_binary(cloud_event, _FORMAT, key_mapper=lambda _: event_.subject)


def from_kafka(
    headers: list[tuple[str, bytes]] | None, key: bytes | None, value: bytes | None
) -> Event[Any]:
    """Decode and validate a consumed message; raises MalformedEvent for anything unusable."""
    wanted = {
        name: raw
        for name, raw in (headers or [])
        if raw is not None and (name.startswith("ce_") or name == "content-type")
    }
    try:
        cloud_event = from_binary(
            KafkaMessage(headers=wanted, key=key, value=value or b""), _FORMAT
        )
        attributes = cloud_event.get_attributes()
        event_type = cloud_event.get_type()
        tenant = uuid.UUID(str(attributes.get(TENANT_ATTR)))
        event_id = uuid.UUID(cloud_event.get_id())
        payload = cloud_event.get_data()
    except Exception as exc:  # the SDK raises several unrelated types for bad input
        raise MalformedEvent(f"not a valid CloudEvent: {exc}") from exc
    if isinstance(payload, (bytes, str)):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise MalformedEvent(f"data is not JSON: {exc}") from exc
    contract = contract_for(event_type)
    if contract is None:
        raise MalformedEvent(f"unknown event type {event_type!r}")
    try:
        data = contract.model_validate(payload)
    except Exception as exc:
        raise MalformedEvent(f"data does not match {event_type}: {exc}") from exc
    return Event(
        id=event_id,
        type=event_type,
        source=cloud_event.get_source(),
        subject=cloud_event.get_subject() or data.subject(),
        tenant=tenant,
        time=cloud_event.get_time() or datetime.now(UTC),
        data=data,
    )


def header_value(headers: list[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, raw in headers or []:
        if key == name and raw is not None:
            return raw.decode("utf-8", "replace")
    return None
