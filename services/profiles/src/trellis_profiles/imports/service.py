"""Bulk imports: accept a file of people, keep its rows, report progress and per-row errors.

The rows are imported afterwards, in batches, by `imports.runner`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.imports.models import (
    COLUMNS,
    FieldError,
    ImportFormat,
    PersonImport,
    PersonImportError,
    PersonImportRow,
    RowError,
)
from trellis_shared.problems import Problem

MAX_BODY_BYTES = 20 * 1024 * 1024
MEDIA_TYPES: dict[str, ImportFormat] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}


def format_of(content_type: str | None) -> ImportFormat:
    """The file format a Content-Type names; anything else is a 415."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise Problem(
            415,
            f"Send the file as text/csv or application/x-ndjson, not {media_type or 'nothing'}",
        )
    return MEDIA_TYPES[media_type]


def _body_problem(message: str, *, field: str = "body") -> Problem:
    return Problem(
        422, f"Invalid {field}: {message}", errors=[{"field": field, "message": message}]
    )


def _read_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise _body_problem(f"unreadable CSV header: {exc}") from exc
    if not header:
        raise _body_problem("the file is empty")
    problems = [
        {"field": f"body.{name}", "message": "unknown column"}
        for name in dict.fromkeys(header)
        if name not in COLUMNS
    ]
    problems += [
        {"field": f"body.{name}", "message": "column appears more than once"}
        for name in dict.fromkeys(header)
        if header.count(name) > 1
    ]
    if "external_id" not in header:
        problems.append(
            {"field": "body.external_id", "message": "column required: people are matched by it"}
        )
    if problems:
        fields = ", ".join(p["field"] for p in problems)
        raise Problem(422, f"Invalid CSV header: {fields}", errors=problems)
    reader.fieldnames = header
    rows = []
    try:
        for cells in reader:
            extra = cells.pop("\x00extra", None)
            data = {k: v.strip() for k, v in cells.items() if v is not None and v.strip()}
            errors = None
            if any("\x00" in value for value in data.values()):
                data, errors = None, _row_error("contains a NUL character")
            elif extra:
                errors = [
                    {
                        "field": "row",
                        "message": f"{len(extra)} more cell(s) than the header has columns",
                    }
                ]
            rows.append({"line": reader.line_num, "data": data, "errors": errors})
    except csv.Error as exc:
        raise _body_problem(f"unreadable CSV at line {reader.line_num}: {exc}") from exc
    return rows


def _read_ndjson(text: str) -> list[dict[str, Any]]:
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            rows.append(
                {"line": line_number, "data": None, "errors": _row_error(f"not JSON: {exc}")}
            )
            continue
        if not isinstance(data, dict):
            rows.append(
                {"line": line_number, "data": None, "errors": _row_error("not a JSON object")}
            )
            continue
        if "\\u" in line and not _storable(data):
            rows.append(
                {
                    "line": line_number,
                    "data": None,
                    "errors": _row_error("contains a NUL character or an unpaired surrogate"),
                }
            )
            continue
        rows.append({"line": line_number, "data": data, "errors": None})
    return rows


def _storable(data: dict[str, Any]) -> bool:
    """Whether Postgres can keep the decoded JSON (jsonb refuses NUL; UTF-8 lone surrogates)."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text and "\\u0000" not in text


def _row_error(message: str) -> list[dict[str, str]]:
    return [{"field": "row", "message": message}]


def read_rows(body: bytes, file_format: ImportFormat) -> list[dict[str, Any]]:
    """The file's rows, in order, each with its line and the data as given (or why not)."""
    try:
        # utf-8-sig: spreadsheet exports often begin with a byte order mark.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _body_problem(f"not UTF-8 text (byte {exc.start})") from exc
    rows = _read_csv(text) if file_format == "csv" else _read_ndjson(text)
    if not rows:
        raise _body_problem("the file has no rows")
    return rows


async def create(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    requested_by: str,
    file_format: ImportFormat,
    body: bytes,
) -> PersonImport:
    """Keep the file's rows and queue the import of them."""
    rows = read_rows(body, file_format)
    job = PersonImport(
        organization_id=organization_id,
        format=file_format,
        total_rows=len(rows),
        requested_by=requested_by,
    )
    session.add(job)
    await session.flush()
    connection = await session.connection()
    await connection.execute(
        PersonImportRow.__table__.insert(),
        [{"import_id": job.id, "row_number": n, **row} for n, row in enumerate(rows, start=1)],
    )
    return job


async def get(
    *, session: AsyncSession, organization_id: uuid.UUID, import_id: uuid.UUID
) -> PersonImport:
    """An import of the organization; another tenant's is simply not found."""
    job = (
        await session.exec(
            select(PersonImport).where(
                PersonImport.id == import_id, PersonImport.organization_id == organization_id
            )
        )
    ).first()
    if job is None:
        raise Problem(404, f"No import {import_id}")
    return job


def _encode_row_cursor(row_number: int) -> str:
    return base64.urlsafe_b64encode(f"row:{row_number}".encode()).decode().rstrip("=")


def _decode_row_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = raw.partition(":")
        if kind != "row":
            raise ValueError(kind)
        return int(number)
    except ValueError as exc:
        raise Problem(
            422,
            "Invalid query.cursor: not a cursor this API issued",
            errors=[{"field": "query.cursor", "message": "malformed cursor"}],
        ) from exc


async def list_errors(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    import_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[list[RowError], str | None]:
    """The rows that were not imported and why, in file order."""
    await get(session=session, organization_id=organization_id, import_id=import_id)
    query = select(PersonImportError).where(PersonImportError.import_id == import_id)
    if cursor:
        query = query.where(PersonImportError.row_number > _decode_row_cursor(cursor))
    query = query.order_by(col(PersonImportError.row_number)).limit(limit + 1)
    found = list((await session.exec(query)).all())
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        next_cursor = _encode_row_cursor(found[-1].row_number)
    return [
        RowError(
            row=e.row_number,
            line=e.line,
            external_id=e.external_id,
            errors=[FieldError(**problem) for problem in e.errors],
        )
        for e in found
    ], next_cursor
