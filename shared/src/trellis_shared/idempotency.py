"""`Idempotency-Key` on writes: a retry gets the first response instead of a second effect.

Mobile clients retry when a response is lost. The first request with a key records itself as in
progress, runs, and stores its response; a replay with the same key and the same request gets
that stored response (`Idempotent-Replayed: true`); the same key with a different request is a
422; a replay while the first is still running is a 409. Keys are scoped to the caller (tenant
and subject) and live for 24 hours. A 5xx is not stored, so the client's retry runs again.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trellis_shared.messaging_tables import idempotency_record
from trellis_shared.problems import Problem, problem_response

HEADER = "idempotency-key"
TTL = timedelta(hours=24)
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_KEPT_HEADERS = {"content-type", "location", "etag"}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        key = request.headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not (1 <= len(key) <= 255 and key.isprintable()):
            response = problem_response(
                request,
                400,
                "Invalid header.Idempotency-Key: 1 to 255 printable characters",
                errors=[
                    {"field": "header.Idempotency-Key", "message": "1 to 255 printable characters"}
                ],
            )
            await response(scope, receive, send)
            return
        try:
            principal = await _principal(request)
        except Problem:
            await self.app(scope, receive, send)  # the route answers 401 itself
            return
        body = await request.body()
        digest = hashlib.sha256(
            b"\n".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()
        engine = request.app.state.runtime.engine
        ident = {"tenant": principal.org, "principal": principal.sub, "key": key}

        existing = await _claim(engine, ident, digest)
        if existing is not None:
            await _answer_replay(request, existing, digest)(scope, receive, send)
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await _complete(engine, ident, captured)


async def _principal(request: Request):
    from trellis_shared.auth import authenticate

    return await authenticate(request)


async def _claim(engine, ident: dict[str, Any], digest: str) -> Any | None:
    """Record the key as in progress; returns the earlier record when the key was used."""
    async with engine.begin() as conn:
        await conn.execute(
            idempotency_record.delete().where(
                *_match(ident), idempotency_record.c.created_at < datetime.now(UTC) - TTL
            )
        )
        inserted = await conn.scalar(
            insert(idempotency_record)
            .values(**ident, request_hash=digest)
            .on_conflict_do_nothing()
            .returning(idempotency_record.c.key)
        )
        if inserted is not None:
            return None
        return (await conn.execute(sa.select(idempotency_record).where(*_match(ident)))).one()


async def _complete(engine, ident: dict[str, Any], captured: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        if captured["status"] >= 500:
            await conn.execute(idempotency_record.delete().where(*_match(ident)))
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in captured["headers"]
            if k.decode("latin-1").lower() in _KEPT_HEADERS
        }
        await conn.execute(
            idempotency_record.update()
            .where(*_match(ident))
            .values(
                status_code=captured["status"],
                response_headers=headers,
                response_body=b"".join(captured["body"]),
                completed_at=sa.func.now(),
            )
        )


def _match(ident: dict[str, Any]) -> list:
    return [getattr(idempotency_record.c, column) == value for column, value in ident.items()]


def _answer_replay(request: Request, record: Any, digest: str):
    from starlette.responses import Response

    if record.request_hash != digest:
        return problem_response(
            request,
            422,
            "Invalid header.Idempotency-Key: already used for a different request",
            slug="idempotency-key-reused",
            errors=[
                {
                    "field": "header.Idempotency-Key",
                    "message": "already used for a different request",
                }
            ],
        )
    if record.completed_at is None:
        return problem_response(
            request,
            409,
            "A request with this Idempotency-Key is still being processed",
            slug="idempotency-in-progress",
            headers={"Retry-After": "1"},
        )
    headers = dict(record.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    return Response(content=record.response_body, status_code=record.status_code, headers=headers)
