"""Event contracts and the CloudEvents 1.0 envelope they travel in over Kafka (binary mode).

A contract is a pydantic model registered under its type
`trellis.<service>.<entity>.<past-tense-action>.v<N>`. Its topic is `trellis.<service>.<entity>`,
its key (and CloudEvents `subject`) the id named by `subject`. Changes to a contract are
additive only; a breaking change is a new class with the next version.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from cloudevents.core.bindings.kafka import KafkaMessage, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError

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


_REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")


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
    """Decode and validate a consumed message (CloudEvents 1.0, Kafka binding, binary mode);
    raises MalformedEvent for anything unusable. The data is validated straight from the bytes."""
    attributes: dict[str, str] = {}
    content_type = None
    for name, raw in headers or []:
        if raw is None or not (name.startswith("ce_") or name == "content-type"):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"not a valid CloudEvent: header {name} is not UTF-8") from exc
        if name == "content-type":
            content_type = text
        else:
            attributes[name[3:]] = text
    if missing := [name for name in _REQUIRED_ATTRIBUTES if not attributes.get(name)]:
        raise MalformedEvent(f"not a valid CloudEvent: missing {', '.join(missing)}")
    if attributes["specversion"] != "1.0":
        raise MalformedEvent(
            f"not a valid CloudEvent: specversion {attributes['specversion']!r} is not 1.0"
        )
    event_id = _uuid_attribute(attributes, "id")
    tenant = _uuid_attribute(attributes, TENANT_ATTR)
    time = _time_attribute(attributes.get("time"))
    if content_type is not None and not _is_json(content_type):
        raise MalformedEvent(f"data is not JSON: content-type {content_type!r}")
    event_type = attributes["type"]
    contract = contract_for(event_type)
    if contract is None:
        raise MalformedEvent(f"unknown event type {event_type!r}")
    try:
        data = contract.model_validate_json(value or b"")
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedEvent(f"data is not JSON: {exc}") from exc
        raise MalformedEvent(f"data does not match {event_type}: {exc}") from exc
    return Event(
        id=event_id,
        type=event_type,
        source=attributes["source"],
        subject=attributes.get("subject") or data.subject(),
        tenant=tenant,
        time=time,
        data=data,
    )


def _uuid_attribute(attributes: dict[str, str], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(attributes.get(name, ""))
    except ValueError:
        raise MalformedEvent(f"not a valid CloudEvent: {name} is not a UUID") from None


def _time_attribute(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MalformedEvent(f"not a valid CloudEvent: time {text!r} is not an RFC 3339 timestamp")
    return moment


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def header_value(headers: list[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, raw in headers or []:
        if key == name and raw is not None:
            return raw.decode("utf-8", "replace")
    return None
