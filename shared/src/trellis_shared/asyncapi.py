"""The partner contract as an AsyncAPI 3 document, generated from the event contracts.

Every topic is a channel; every event type is a message on its topic with its payload schema, the
CloudEvents headers it travels with (binary content mode) and its key. Trellis is the application
described: it sends every message; partners receive them through a consumer group of their own, or
as signed webhooks carrying the same CloudEvent.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from typing import Any

import yaml

import trellis_shared.contracts  # noqa: F401  (registers every contract)
from trellis_shared.events import EventContract, registered_contracts, topic_of

VERSION = "1.0.0"
PARTITIONS = 6

_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka headers (binary content mode)",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenant"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "Unique per event"},
        "ce_source": {
            "type": "string",
            "description": "The producing service, e.g. trellis/profiles",
        },
        "ce_type": {"type": "string", "description": "The event type (see the message name)"},
        "ce_subject": {"type": "string", "description": "The entity id; also the Kafka key"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_tenant": {
            "type": "string",
            "format": "uuid",
            "description": "The organization the event belongs to (extension attribute)",
        },
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def _message_name(event_type: str) -> str:
    return event_type.removeprefix("trellis.").replace(".", "_")


def _hoist(schema: dict[str, Any], shared: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Move the schema's $defs into components/schemas (named once), rewriting its references.

    `raw` keeps each shared definition as first seen, so the same model met again in another
    event is recognised as the same (a different model of the same name gets a suffix)."""
    schema = copy.deepcopy(schema)
    renames: dict[str, str] = {}
    for name, definition in schema.pop("$defs", {}).items():
        target = name
        while target in raw and raw[target] != definition:
            target += "_"
        raw[target] = definition
        shared[target] = definition
        renames[name] = target

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    f"#/components/schemas/{renames[v.rsplit('/', 1)[-1]]}"
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                    else rewrite(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name in renames.values():
        shared[name] = rewrite(shared[name])
    return rewrite(schema)


def _payload(
    contract: type[EventContract], shared: dict[str, Any], raw: dict[str, Any]
) -> dict[str, Any]:
    return _hoist(contract.model_json_schema(mode="serialization"), shared, raw)


def document(*, kafka_url: str = "localhost:9092") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every Trellis event."""
    contracts = sorted(registered_contracts().items())
    by_topic: dict[str, list[tuple[str, type[EventContract]]]] = defaultdict(list)
    for event_type, contract in contracts:
        by_topic[topic_of(event_type)].append((event_type, contract))
    schemas: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, members in sorted(by_topic.items()):
        channel_id = topic.removeprefix("trellis.").replace(".", "_")
        refs = {}
        for event_type, contract in members:
            name = _message_name(event_type)
            subject = contract.subject_field
            messages[name] = {
                "name": event_type,
                "title": event_type,
                "summary": (contract.__doc__ or event_type).strip().splitlines()[0],
                "contentType": "application/json",
                "headers": {
                    **_HEADERS,
                    "properties": {
                        **_HEADERS["properties"],
                        "ce_type": {"type": "string", "const": event_type},
                    },
                },
                "payload": _payload(contract, schemas, raw),
                "correlationId": {
                    "description": "The entity the event is about",
                    "location": "$message.header#/ce_subject",
                },
                "bindings": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "description": f"The entity id (`{subject}`): one entity's events "
                            "keep their order",
                        },
                        "bindingVersion": "0.5.0",
                    }
                },
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": f"Events of `{topic}`, keyed by entity id. "
            f"Undeliverable events of Trellis' own consumers go to `{topic}.dlq`.",
            "messages": refs,
            "bindings": {"kafka": {"partitions": PARTITIONS, "bindingVersion": "0.5.0"}},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Trellis publishes to {topic}",
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in sorted(refs)
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Trellis events",
            "version": VERSION,
            "description": (
                "Every event Trellis publishes. Envelope: CloudEvents 1.0 in Kafka binary content "
                "mode (attributes in `ce_*` headers, JSON data in the value, the entity id as the "
                "key). The same CloudEvent, in structured JSON, is the body of a webhook. An "
                "event's type ends in its version (`.v1`); a version only ever gains optional "
                "fields, and a breaking change is published as a new version beside the old one."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": kafka_url,
                "protocol": "kafka",
                "description": "The Kafka cluster; partners get a consumer group and read ACLs",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def as_yaml(doc: dict[str, Any]) -> str:
    # Through JSON first: plain types only, so the YAML has no Python-specific tags.
    return yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False, allow_unicode=True)
