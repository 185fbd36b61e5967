"""Opaque keyset cursors for list endpoints."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from trellis_shared.problems import Problem


def encode_cursor(at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, id_ = json.loads(raw)
        return datetime.fromisoformat(at), uuid.UUID(id_)
    except (ValueError, TypeError) as exc:
        raise Problem(
            422,
            "Invalid query.cursor: not a cursor this API issued",
            errors=[{"field": "query.cursor", "message": "malformed cursor"}],
        ) from exc


async def keyset_page(
    session: Any,
    query: Any,
    table: Any,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of `query` ordered by (created_at, id), and the next page's cursor if any.

    `table` needs `created_at` and `id` columns; the query keeps its own filters (tenant first).
    """
    key = sa.tuple_(table.created_at, table.id)
    if cursor:
        at, last_id = decode_cursor(cursor)
        after = sa.tuple_(at, last_id)
        query = query.where(key < after if newest_first else key > after)
    order = (
        (table.created_at.desc(), table.id.desc()) if newest_first else (table.created_at, table.id)
    )
    rows = list((await session.exec(query.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id)
