"""Request bodies bounded by the service itself, not only by the gateway.

The gateway refuses large bodies for clients outside, but a caller inside the network (another
pod, a misrouted partner, a port left open) reaches the service directly, and FastAPI buffers
whatever arrives before validating it. A declared Content-Length over the limit is refused before
any byte is read; a chunked body is counted as it streams and refused when it crosses the limit.

FastAPI's own `max_body_size` is not used: its app-wide limit sits outside our middleware and
answers a body read there (the Idempotency-Key middleware reads it to fingerprint the request) with
a plain-text 413, and its per-route limit comes too late to let an import through that outer one.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trellis_shared.problems import problem_response

DEFAULT_LIMIT = 1 << 20
"""1 MiB, the gateway's `client_max_body_size 1m`."""


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, limit: int = DEFAULT_LIMIT, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})  # exact path -> its own limit (a bulk upload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:  # the app answered before reading it all: nothing more can be said
                raise
            await _refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        Request(scope, receive),
        413,
        f"the request body is larger than this route accepts ({limit:,} bytes)",
        limit_bytes=limit,
    )
    # The client may still be sending: closing after the answer spares reading the rest.
    response.headers["connection"] = "close"
    await response(scope, receive, send)
