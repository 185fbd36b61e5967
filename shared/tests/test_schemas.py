"""Event schemas: every contract is snapshotted, no change breaks a partner's consumer silently,
and the compatibility rules catch each kind of breaking change."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from trellis_shared import schemas
from trellis_shared.events import registered_contracts


def _diff(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return schemas.breaking_changes(
        old.model_json_schema(mode="serialization"), new.model_json_schema(mode="serialization")
    )


def test_every_event_is_snapshotted_and_compatible_with_its_snapshot():
    problems = schemas.check()
    assert problems == {}, (
        "Event schemas changed incompatibly (give the event a new version, e.g. .v2) or are not "
        f"snapshotted yet (run `uv run trellis schemas snapshot`): {problems}"
    )
    assert set(schemas.load_snapshots()) >= set(registered_contracts())


class Skill(BaseModel):
    name: str
    level: Literal["beginner", "expert"]


class V1(BaseModel):
    person_id: uuid.UUID
    full_name: str
    age: int | None = None
    role: Literal["mentor", "mentee"]
    skills: list[Skill] = []


def test_adding_an_optional_field_is_compatible():
    class Added(V1):
        headline: str | None = None

    assert _diff(V1, Added) == []


def test_removing_or_renaming_a_field_breaks():
    class Renamed(BaseModel):
        person_id: uuid.UUID
        name: str
        age: int | None = None
        role: Literal["mentor", "mentee"]
        skills: list[Skill] = []

    found = _diff(V1, Renamed)
    assert "full_name: removed" in found
    assert any(p.startswith("name: new required field") for p in found)


def test_a_type_that_admits_new_values_breaks_and_a_narrower_one_does_not():
    class Widened(BaseModel):
        person_id: uuid.UUID
        full_name: str | None
        age: int | None = None
        role: Literal["mentor", "mentee"]
        skills: list[Skill] = []

    class Narrowed(BaseModel):
        person_id: uuid.UUID
        full_name: str
        age: int = 0
        role: Literal["mentor", "mentee"]
        skills: list[Skill] = []

    assert any(p.startswith("full_name: now also admits null") for p in _diff(V1, Widened))
    assert _diff(V1, Narrowed) == []


def test_changed_enumerations_and_nested_changes_break():
    class Level(BaseModel):
        name: str
        level: Literal["beginner", "intermediate", "expert"]

    class Deeper(BaseModel):
        person_id: uuid.UUID
        full_name: str
        age: int | None = None
        role: Literal["mentor"]
        skills: list[Level] = []

    found = _diff(V1, Deeper)
    assert 'role: enumeration values removed "mentee"' in found
    assert 'skills[].level: new enumeration values "intermediate"' in found


def test_a_field_that_stops_being_required_breaks():
    class Loosened(BaseModel):
        person_id: uuid.UUID
        full_name: str = ""
        age: int | None = None
        role: Literal["mentor", "mentee"]
        skills: list[Skill] = []

    assert "full_name: no longer required (consumers rely on it)" in _diff(V1, Loosened)


def test_snapshots_refuse_to_record_a_breaking_change(tmp_path):
    written = schemas.write_snapshots(tmp_path)
    assert written and schemas.check(tmp_path) == {}
    some_type = written[0]
    path = schemas.snapshot_path(some_type, tmp_path)
    edited = path.read_text().replace('"required": [', '"required": ["ghost_field", ', 1)
    edited = edited.replace(
        '"properties": {', '"properties": {"ghost_field": {"type": "string"}, ', 1
    )
    path.write_text(edited)
    assert "ghost_field: removed" in schemas.check(tmp_path)[some_type]
    assert some_type not in schemas.write_snapshots(tmp_path)  # never overwritten silently
