"""`Idempotency-Key` on writes: a retry gets the first response instead of a second effect.

Mobile clients retry when a response is lost. The first request with a key records itself as in
progress, runs, and stores its response; a replay with the same key and the same request gets
that stored response (`Idempotent-Replayed: true`); the same key with a different request is a
422; a replay while the first is still running is a 409. Keys are scoped to the caller (tenant
and subject) and live for 24 hours. A 5xx is not stored, so the client's retry runs again.

An attempt that dies mid-request (its process killed, its database gone) never stores a
response. Its transaction marks the record when it commits its effect, in that same transaction,
so a retry after the lease knows which case it is in: nothing was committed, and the retry takes
the key over and runs (the dead attempt, should it still be alive, can no longer commit: its
claim token is fenced); or the effect was committed and only the response was lost, which is
answered with a 409 rather than applied twice.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trellis_shared.messaging_tables import idempotency_record
from trellis_shared.problems import Problem, problem_response

HEADER = "idempotency-key"
TTL = timedelta(hours=24)
# How long an attempt holds its key before a retry may take it over: the gateway gives up on a
# request after 60 s, so by then its client has no answer either.
LEASE = timedelta(seconds=60)
STATE = "idempotency_claim"
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

        token, existing = await _claim(engine, ident, digest)
        if token is None:
            await _answer_replay(request, existing, digest)(scope, receive, send)
            return
        # The request's database session fences its commits with the claim (`fence`).
        scope.setdefault("state", {})[STATE] = {**ident, "claim_token": token}

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
            await _complete(engine, ident, token, captured)


async def _principal(request: Request):
    from trellis_shared.auth import authenticate

    return await authenticate(request)


async def _claim(engine, ident: dict[str, Any], digest: str) -> tuple[Any, Any]:
    """Hold the key for this attempt: (its claim token, None), or (None, the record to answer
    from) when another attempt holds it or finished it."""
    token = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            idempotency_record.delete().where(
                *_match(ident), idempotency_record.c.created_at < datetime.now(UTC) - TTL
            )
        )
        inserted = await conn.scalar(
            insert(idempotency_record)
            .values(**ident, request_hash=digest, claim_token=token)
            .on_conflict_do_nothing()
            .returning(idempotency_record.c.key)
        )
        if inserted is not None:
            return token, None
        record = (
            await conn.execute(
                sa.select(idempotency_record).where(*_match(ident)).with_for_update()
            )
        ).one()
        abandoned = (
            record.request_hash == digest
            and record.completed_at is None
            and record.committed_at is None
            and record.created_at < datetime.now(UTC) - LEASE
        )
        if not abandoned:
            return None, record
        # The earlier attempt died before committing anything: this one runs instead.
        await conn.execute(
            idempotency_record.update()
            .where(*_match(ident))
            .values(claim_token=token, created_at=sa.func.now())
        )
        return token, None


def fence(session: AsyncSession, claim: dict[str, Any]) -> None:
    """Make each commit of `session` also mark the claim as committed, in the same transaction,
    and fail if a retry has taken the key over meanwhile (its effect would be applied twice)."""

    def before_commit(sync_session: Any) -> None:
        ident = {k: v for k, v in claim.items() if k != "claim_token"}
        marked = sync_session.execute(
            idempotency_record.update()
            .where(
                *_match(ident),
                idempotency_record.c.claim_token == claim["claim_token"],
                idempotency_record.c.completed_at.is_(None),
            )
            .values(committed_at=sa.func.now())
        )
        if marked.rowcount != 1:
            raise Problem(
                409,
                "A retry with this Idempotency-Key took over; this attempt was not applied",
                slug="idempotency-superseded",
            )

    event.listen(session.sync_session, "before_commit", before_commit)


async def _complete(engine, ident: dict[str, Any], token: Any, captured: dict[str, Any]) -> None:
    mine = [*_match(ident), idempotency_record.c.claim_token == token]
    async with engine.begin() as conn:
        if captured["status"] >= 500:
            # Only when nothing was committed may the client's retry run the request again.
            await conn.execute(
                idempotency_record.delete().where(
                    *mine, idempotency_record.c.committed_at.is_(None)
                )
            )
            return
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in captured["headers"]
            if k.decode("latin-1").lower() in _KEPT_HEADERS
        }
        await conn.execute(
            idempotency_record.update()
            .where(*mine)
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
    if record.completed_at is None and record.committed_at is not None:
        return problem_response(
            request,
            409,
            "The request with this Idempotency-Key was applied, but its response was lost;"
            " read the resource to see the result",
            slug="idempotency-response-lost",
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
