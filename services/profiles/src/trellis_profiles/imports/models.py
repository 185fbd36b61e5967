"""Bulk imports: the job, the rows waiting to be imported, the per-row error report."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

from trellis_profiles.models import ProfilesTable, timestamp_field
from trellis_profiles.people.models import PersonCreate

ImportStatus = Literal["queued", "running", "completed", "failed"]
ImportFormat = Literal["csv", "ndjson"]
PENDING: tuple[ImportStatus, ...] = ("queued", "running")


class PersonImport(ProfilesTable, table=True):
    __tablename__ = "person_import"
    __table_args__ = (
        sa.Index("ix_person_import_organization_created", "organization_id", "created_at", "id"),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    format: str
    status: str = "queued"
    total_rows: int
    # Rows 1..processed_rows are done: a resumed job goes on from the next one.
    processed_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_rows: int = 0
    enrollments_created: int = 0
    error: str | None = None
    requested_by: str
    created_at: datetime = timestamp_field()
    started_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = SQLField(default=None, sa_type=sa.DateTime(timezone=True))


class PersonImportRow(ProfilesTable, table=True):
    """A row as the file gave it, kept only until it is imported (it holds personal data)."""

    __tablename__ = "person_import_row"

    import_id: uuid.UUID = SQLField(
        primary_key=True,
        sa_column_args=[sa.ForeignKey("person_import.id", ondelete="CASCADE")],
    )
    row_number: int = SQLField(primary_key=True)
    line: int
    data: dict[str, Any] | None = SQLField(default=None, sa_type=pg.JSONB)
    # Set when the row could not even be read (say, a line that is not JSON).
    errors: list[dict[str, str]] | None = SQLField(default=None, sa_type=pg.JSONB)


class PersonImportError(ProfilesTable, table=True):
    __tablename__ = "person_import_error"

    import_id: uuid.UUID = SQLField(
        primary_key=True,
        sa_column_args=[sa.ForeignKey("person_import.id", ondelete="CASCADE")],
    )
    row_number: int = SQLField(primary_key=True)
    line: int
    external_id: str | None = None
    errors: list[dict[str, str]] = SQLField(sa_type=pg.JSONB)


class ImportPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ImportStatus
    format: ImportFormat
    total_rows: int
    processed_rows: int
    created: int
    updated: int
    unchanged: int
    failed_rows: int
    enrollments_created: int
    error: str | None
    errors_url: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: PersonImport) -> ImportPublic:
        return cls.model_validate(
            {**job.model_dump(), "errors_url": f"/profiles/imports/{job.id}/errors"}
        )


class FieldError(BaseModel):
    field: str
    message: str


class RowError(BaseModel):
    """Why one row was not imported."""

    model_config = ConfigDict(from_attributes=True)

    row: int
    line: int
    external_id: str | None
    errors: list[FieldError]


class RowErrorsPublic(BaseModel):
    data: list[RowError]
    next_cursor: str | None = None


# --- the row format ---------------------------------------------------------------------------
# A row carries PersonCreate's fields (external_id required) and, optionally, an enrollment.
# In CSV, list fields are ";"-separated: skills "name:level", availability "weekday HH:MM-HH:MM",
# goals "category:text", demographics and matching_preferences "key:value". An empty cell (or a
# JSON null) means "not given": a new person gets the default, an existing one keeps the value.

PERSON_COLUMNS = tuple(PersonCreate.model_fields)
ENROLLMENT_COLUMNS = ("program_id", "role", "capacity", "topics", "goals")
COLUMNS = frozenset(PERSON_COLUMNS + ENROLLMENT_COLUMNS)

_SLOT_RE = re.compile(r"^([0-9])\s+([0-9:]+)\s*-\s*([0-9:]+)$")


@dataclass
class ImportRow:
    """One stored row, read into the shapes of PersonCreate and EnrollmentCreate."""

    number: int
    line: int
    external_id: str | None
    person: dict[str, Any]
    enrollment: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _skill(part: str) -> dict[str, str]:
    name, colon, level = part.rpartition(":")
    return {"name": name.strip(), "level": level.strip()} if colon else {"name": part}


def _pairs(value: str, column: str, errors: list[dict[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for part in _split(value):
        key, colon, text = part.partition(":")
        if not colon:
            errors.append({"field": column, "message": f"{part!r} is not 'key:value'"})
            continue
        pairs.append((key.strip(), text.strip()))
    return pairs


def _slots(value: str, errors: list[dict[str, str]]) -> list[dict[str, str]]:
    slots = []
    for part in _split(value):
        match = _SLOT_RE.match(part)
        if match is None:
            errors.append(
                {"field": "availability", "message": f"{part!r} is not 'weekday HH:MM-HH:MM'"}
            )
            continue
        weekday, start, end = match.groups()
        slots.append({"weekday": weekday, "start": start, "end": end})
    return slots


def _from_cells(cells: dict[str, str], errors: list[dict[str, str]]) -> dict[str, Any]:
    """CSV cells (strings) to the values the API models take; pydantic converts the scalars."""
    values: dict[str, Any] = {}
    for column, text in cells.items():
        if column in ("languages", "interests", "communication", "topics"):
            values[column] = _split(text)
        elif column == "skills":
            values[column] = [_skill(part) for part in _split(text)]
        elif column == "availability":
            values[column] = _slots(text, errors)
        elif column == "goals":
            values[column] = [
                {"category": category, "description": description}
                for category, description in _pairs(text, column, errors)
            ]
        elif column in ("demographics", "matching_preferences"):
            values[column] = dict(_pairs(text, column, errors))
        else:
            values[column] = text
    return values


def read_row(stored: PersonImportRow, file_format: str) -> ImportRow:
    """The stored row as person and enrollment fields, with what was wrong in reading it."""
    errors = list(stored.errors or [])
    data = stored.data or {}
    if file_format == "csv":
        values = _from_cells(data, errors)
    else:
        values = {k: v for k, v in data.items() if v is not None}
        if isinstance(values.get("external_id"), int):
            values["external_id"] = str(values["external_id"])
    external_id = values.get("external_id")
    if isinstance(external_id, str) and external_id.strip():
        values["external_id"] = external_id = external_id.strip()
    else:
        if stored.data is not None:
            errors.append(
                {
                    "field": "external_id",
                    "message": "required, as text: imports match people by it",
                }
            )
        external_id = None
    return ImportRow(
        number=stored.row_number,
        line=stored.line,
        external_id=external_id,
        person={k: v for k, v in values.items() if k not in ENROLLMENT_COLUMNS},
        enrollment={k: v for k, v in values.items() if k in ENROLLMENT_COLUMNS},
        errors=errors,
    )
