"""Opaque keyset cursors for list endpoints."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

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
