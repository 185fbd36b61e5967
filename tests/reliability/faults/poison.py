"""Messages for the poison flood: valid events of any contract, built from the contract's own
fields, and four kinds of bad message a consumer must dead-letter rather than choke on."""

from __future__ import annotations

import enum
import importlib
import types
import typing
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from trellis_infra.stack import SERVICES
from trellis_shared.events import Event, EventContract, registered_contracts, to_kafka

SOURCE = "trellis/poison-flood"
BAD_KINDS = ("not-a-cloudevent", "data-not-json", "data-off-schema", "tenant-not-a-uuid")


def handled_types(service: str) -> set[str]:
    return set(importlib.import_module(f"trellis_{service}.handlers").subscriptions.handlers)


def consumers_by_topic() -> dict[str, dict[str, set[str]]]:
    """topic -> {service: the event types of that topic it handles}."""
    found: dict[str, dict[str, set[str]]] = {}
    for service in SERVICES:
        for event_type in handled_types(service):
            topic = registered_contracts()[event_type].topic()
            found.setdefault(topic, {}).setdefault(service, set()).add(event_type)
    return found


def sample(annotation: Any, *, name: str = "") -> Any:
    """A valid value for a field: the first choice of a Literal, `[]` for lists, a fresh id..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return sample(args[0], name=name)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            return None
        return sample(args[0], name=name)
    if origin in (list, set, frozenset, tuple):
        return []
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return build(annotation)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, uuid.UUID):
            return uuid.uuid4()
        if issubclass(annotation, datetime):
            return datetime.now(UTC) + timedelta(days=30)
        if issubclass(annotation, date):
            return date.today() + timedelta(days=30)
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, float):
            return 0.5
        if issubclass(annotation, str):
            return "en" if "locale" in name or "language" in name else f"flood {name}"
    raise TypeError(f"no sample for {annotation!r} ({name})")


def build(model: type[BaseModel]) -> dict[str, Any]:
    hints = typing.get_type_hints(model, include_extras=True)
    return {
        field: sample(hints[field], name=field)
        for field, info in model.model_fields.items()
        if info.is_required()
    }


def good(event_type: str, tenant: uuid.UUID) -> tuple[bytes, list[tuple[str, bytes]], bytes]:
    """A valid event of `event_type`, about people and things nobody else knows: (key, headers,
    value) as the outbox relay would publish it."""
    contract: type[EventContract] = registered_contracts()[event_type]
    data = contract.model_validate(build(contract))
    message = to_kafka(Event.new(data, tenant=tenant, source=SOURCE))
    return message.key.encode(), list(message.headers.items()), message.value


def bad(kind: str, event_type: str, tenant: uuid.UUID) -> tuple[list[tuple[str, bytes]], bytes]:
    """(headers, value) of a message that is not an event any consumer may apply."""
    if kind == "not-a-cloudevent":
        return [], b"\x00\xff poison: neither headers nor JSON \xfe"
    _, headers, value = good(event_type, tenant)
    if kind == "data-not-json":
        return headers, b'{"truncated": '
    if kind == "data-off-schema":
        return headers, b'{"unexpected": ["fields"], "and": "none of the required ones"}'
    if kind == "tenant-not-a-uuid":
        return [(k, b"not-a-uuid" if k == "ce_tenant" else v) for k, v in headers], value
    raise ValueError(kind)
