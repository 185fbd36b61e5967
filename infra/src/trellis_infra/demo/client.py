"""The demo's client of the public API: every request through the gateway, each person with their
own token, a bounded number in flight per service, and patience where the platform asks for it.

The gateway limits requests per token (429 with Retry-After): the client waits as told and tries
again. A 502/503/504 or a lost connection is retried with backoff; writes carry an
Idempotency-Key, so a retry whose first attempt did arrive gets the first answer, not a second
effect. Anything else that is not the expected status stops the demo with the problem's detail.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from trellis_shared.auth import mint_token
from trellis_shared.settings import DEV_JWT_SECRET

T = TypeVar("T")
RETRIED = {502, 503, 504}
ATTEMPTS = 8
# Long enough that the printed curl lines still work for the rest of the day.
TOKEN_TTL_S = 7 * 24 * 3600


class DemoError(RuntimeError):
    """The platform answered something the demo did not expect."""


def _wait_of(response: httpx.Response, attempt: int) -> float:
    try:
        told = float(response.headers.get("retry-after", ""))
    except ValueError:
        told = 0.0
    # Jitter spreads the retries of many concurrent callers over the next second.
    return max(told, min(0.25 * 2**attempt, 5.0)) + random.random() * 0.5


class Api:
    def __init__(self, base_url: str, *, concurrency: int = 8) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(60.0),
            limits=httpx.Limits(max_connections=concurrency * 4),
        )
        self.concurrency = concurrency
        # Per service: the steps of different services (a match accepted in matching, an
        # agreement signed in sessions) then go on side by side instead of queueing behind
        # each other.
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.secret = os.environ.get("TRELLIS_JWT_SECRET", DEV_JWT_SECRET)
        self.org: uuid.UUID | None = None
        self._tokens: dict[str, str] = {}
        self.requests = 0
        self.throttled = 0

    async def close(self) -> None:
        await self.http.aclose()

    def token(self, sub: str | uuid.UUID | None = None, *, role: str = "member") -> str:
        """A token of the organization: a member's when `sub` is a person, else its admin's."""
        key = f"{role}:{sub}"
        if key not in self._tokens:
            roles = [role] if sub is not None else ["org_admin"]
            subject = str(sub) if sub is not None else f"demo-admin-{self.org}"
            self._tokens[key] = mint_token(
                secret=self.secret, sub=subject, org=self.org, roles=roles, ttl_s=TOKEN_TTL_S
            )
        return self._tokens[key]

    def platform_token(self) -> str:
        return mint_token(
            secret=self.secret, sub="demo", org=uuid.uuid4(), roles=["platform_admin"], ttl_s=600
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | uuid.UUID | None = None,
        token: str | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The JSON answer of one request, as person `as_` (the org admin when None)."""
        response = await self.response(
            method, path, as_=as_, token=token, headers=headers, **kwargs
        )
        if response.status_code not in expect:
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    async def response(
        self,
        method: str,
        path: str,
        *,
        as_: str | uuid.UUID | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {token or self.token(as_)}", **(headers or {})}
        if method != "GET":
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
        for attempt in range(ATTEMPTS):
            try:
                async with self._slots(path):
                    self.requests += 1
                    response = await self.http.request(method, path, headers=sent, **kwargs)
            except httpx.TransportError:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(min(0.25 * 2**attempt, 5.0))
                continue
            in_progress = response.status_code == 409 and "idempotency-in-progress" in (
                response.text
            )
            if response.status_code == 429:
                self.throttled += 1
            elif response.status_code not in RETRIED and not in_progress:
                return response
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(_wait_of(response, attempt))
        return response

    def _slots(self, path: str) -> asyncio.Semaphore:
        service = path.lstrip("/").split("/", 1)[0]
        if service not in self.slots:
            self.slots[service] = asyncio.Semaphore(self.concurrency)
        return self.slots[service]

    async def pages(self, path: str, *, as_: str | None = None, **params: Any) -> list[dict]:
        """Every item of a cursor-paginated list."""
        items: list[dict] = []
        cursor = None
        while True:
            query = {"limit": 200, **params} | ({"cursor": cursor} if cursor else {})
            page = await self.call("GET", path, as_=as_, params=query)
            items += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


async def poll(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    timeout: float,
    interval: float = 1.0,
    what: str,
) -> T:
    """Call `probe` until `until` holds; DemoError naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if loop.time() > deadline:
            raise DemoError(f"{what}: not done after {timeout:.0f} s (last: {result!r:.500})")
        await asyncio.sleep(interval)
