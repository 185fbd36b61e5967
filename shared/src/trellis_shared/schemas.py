"""Event schemas as partners see them: one JSON Schema per event type, snapshotted in the repo, and
the rules that decide whether a change to an event is backward compatible.

A partner's consumer written against version N of an event must keep working with every event of
version N we publish, and our own consumers must still read the events already on the topics
(replays, dead-letter queues). So, between a snapshot and the current contract, these are breaking:
a field removed or renamed, a field whose type admits values it did not before, a field that
becomes required or stops being required, and an enumeration that gains or loses values. Adding an
optional field is not. A breaking change needs a new event version (`...v2`), whose snapshot is new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trellis_shared.contracts  # noqa: F401  (registers every contract)
from trellis_shared.events import EventContract, registered_contracts

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "schemas" / "events"


def event_schema(contract: type[EventContract]) -> dict[str, Any]:
    """The JSON Schema of the event's `data`, as it is serialized on the wire."""
    schema = contract.model_json_schema(mode="serialization")
    schema["$id"] = f"https://trellis.dev/schemas/events/{contract.event_type}.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (contract.__doc__ or contract.event_type).strip().splitlines()[0]
    return schema


def current() -> dict[str, dict[str, Any]]:
    return {t: event_schema(c) for t, c in sorted(registered_contracts().items())}


def snapshot_path(event_type: str, directory: Path = SNAPSHOT_DIR) -> Path:
    return directory / f"{event_type}.json"


def load_snapshots(directory: Path = SNAPSHOT_DIR) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


# --- compatibility -----------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {}).get(name, {})
    return schema


def _branches(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, root)
    if "anyOf" in schema or "oneOf" in schema:
        return [b for s in schema.get("anyOf", schema.get("oneOf")) for b in _branches(s, root)]
    return [schema]


def _kinds(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """What values a schema admits, coarsely: its JSON types (with string formats)."""
    kinds = set()
    for branch in _branches(schema, root):
        types = branch.get("type", "any")
        for t in types if isinstance(types, list) else [types]:
            kinds.add(f"{t}:{branch['format']}" if t == "string" and "format" in branch else t)
        if "const" in branch:
            kinds.add(f"const:{json.dumps(branch['const'])}")
    return kinds


def _enum(schema: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    values: set[str] = set()
    for branch in _branches(schema, root):
        if "enum" in branch:
            values |= {json.dumps(v) for v in branch["enum"]}
        elif "const" in branch:
            values.add(json.dumps(branch["const"]))
    return values or None


def breaking_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    path: str = "",
    old_root: dict[str, Any] | None = None,
    new_root: dict[str, Any] | None = None,
) -> list[str]:
    """Every change from `old` to `new` that breaks a consumer of `old`; empty when compatible."""
    old_root, new_root = old_root or old, new_root or new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    where = path or "(event)"
    problems: list[str] = []
    old_kinds, new_kinds = _kinds(old, old_root), _kinds(new, new_root)
    if "any" not in old_kinds and not new_kinds <= old_kinds:
        added = ", ".join(sorted(new_kinds - old_kinds))
        problems.append(f"{where}: now also admits {added} (was {', '.join(sorted(old_kinds))})")
    old_enum, new_enum = _enum(old, old_root), _enum(new, new_root)
    if old_enum is not None and new_enum is not None and old_enum != new_enum:
        if gained := new_enum - old_enum:
            problems.append(f"{where}: new enumeration values {', '.join(sorted(gained))}")
        if lost := old_enum - new_enum:
            problems.append(f"{where}: enumeration values removed {', '.join(sorted(lost))}")
    old_objects = [b for b in _branches(old, old_root) if "properties" in b]
    new_objects = [b for b in _branches(new, new_root) if "properties" in b]
    if old_objects and new_objects:
        o, n = old_objects[0], new_objects[0]
        old_required, new_required = set(o.get("required", ())), set(n.get("required", ()))
        for name, prop in o["properties"].items():
            field = f"{path}.{name}" if path else name
            if name not in n["properties"]:
                problems.append(f"{field}: removed")
                continue
            if name in old_required and name not in new_required:
                problems.append(f"{field}: no longer required (consumers rely on it)")
            problems += breaking_changes(
                prop, n["properties"][name], path=field, old_root=old_root, new_root=new_root
            )
        for name in sorted(new_required - old_required):
            field = f"{path}.{name}" if path else name
            if name not in o["properties"]:
                problems.append(f"{field}: new required field (events already published lack it)")
            else:
                problems.append(f"{field}: became required")
    old_items = [b["items"] for b in _branches(old, old_root) if "items" in b]
    new_items = [b["items"] for b in _branches(new, new_root) if "items" in b]
    if old_items and new_items:
        problems += breaking_changes(
            old_items[0], new_items[0], path=f"{path}[]", old_root=old_root, new_root=new_root
        )
    return problems


def check(directory: Path = SNAPSHOT_DIR) -> dict[str, list[str]]:
    """Problems per event type between the snapshots and the contracts (empty when all is well)."""
    snapshots, schemas = load_snapshots(directory), current()
    problems: dict[str, list[str]] = {}
    for event_type, snapshot in snapshots.items():
        if event_type not in schemas:
            problems[event_type] = ["the event type is gone (partners may still consume it)"]
        elif found := breaking_changes(snapshot, schemas[event_type]):
            problems[event_type] = found
    for event_type in schemas.keys() - snapshots.keys():
        problems[event_type] = ["no snapshot yet: run `trellis schemas snapshot`"]
    return problems


def write_snapshots(directory: Path = SNAPSHOT_DIR) -> list[str]:
    """Record new event types and compatible changes; never overwrite a breaking change."""
    directory.mkdir(parents=True, exist_ok=True)
    snapshots, written = load_snapshots(directory), []
    for event_type, schema in current().items():
        old = snapshots.get(event_type)
        if old is not None and (breaking_changes(old, schema) or old == schema):
            continue
        snapshot_path(event_type, directory).write_text(dump(schema))
        written.append(event_type)
    return written
