"""The journey's platform: every service a process behind the gateway, with a health sweep fast
enough to see an at-risk nudge within a test, and a partner's webhook receiver."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trellis_infra.pytest_plugin import processes_with

# Seconds between health sweeps (600 in production): the at-risk watch is what the journey checks.
SWEEP_SECONDS = "3"


@pytest.fixture(scope="module")
def platform(stack):
    """Like tests/conftest.py's, with the sessions health sweep shortened for these processes."""
    with processes_with(stack, SESSIONS_HEALTH_SWEEP_SECONDS=SWEEP_SECONDS) as platform:
        yield platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A partner's endpoint: verifies each delivery's signature as it arrives (the timestamp
    tolerance is five minutes, shorter than the journey) and keeps what it verified."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/trellis"
        self.secret: str | None = None
        self.verified: list[tuple[str, dict]] = []  # (webhook-id, CloudEvent)
        self.refused: list[str] = []

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception as exc:  # a bad signature must show in the test, not kill the server
            self.refused.append(f"{exc!r}: {body[:200]!r}")
            return Response(status_code=400)
        self.verified.append((request.headers["webhook-id"], json.loads(body) | event))
        return Response(status_code=204)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/hooks/trellis", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().serving() as running:
        yield running
