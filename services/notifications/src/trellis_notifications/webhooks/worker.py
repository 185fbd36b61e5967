"""The delivery worker: claims due deliveries, POSTs them signed, logs every attempt, reschedules.

Safe with several replicas: a batch is claimed in a short transaction (FOR UPDATE SKIP LOCKED)
that stamps `claimed_until`, the requests go out with no transaction open, and the outcomes are
written in a second short transaction. A worker that dies mid-flight leaves its claims to expire,
and another sends them again with the same webhook-id (receivers deduplicate on it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import async_sessionmaker

from trellis_notifications.webhooks import failures, retries, signing, ssrf
from trellis_notifications.webhooks.fanout import CHANNEL
from trellis_notifications.webhooks.models import WebhookDelivery, WebhookSubscription
from trellis_shared.app import asyncpg_dsn
from trellis_shared.db import settings_of

log = logging.getLogger("trellis.notifications.webhooks")
LOG_LIMIT = 50  # attempts kept per delivery
ANSWER_LIMIT = 64 * 1024  # bytes of an answer read (so the connection can be reused), no more
_d, _s = WebhookDelivery.__table__, WebhookSubscription.__table__


@dataclass(frozen=True)
class Outcome:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def client_for(settings: Any) -> httpx.AsyncClient:
    """One loop's client. Each loop has its own: httpx's pool does work per request in proportion
    to its connections, so four pools of 50 beat one of 200."""
    return ssrf.client(
        production=settings.environment == "production",
        timeout_s=settings.webhook_timeout_s,
        connections=settings.webhook_batch_size,
    )


async def run_once(
    sessionmaker: async_sessionmaker, client: httpx.AsyncClient, *, now: datetime | None = None
) -> int:
    """Send one batch of due deliveries and record what happened; how many were attempted."""
    now = now or datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        settings = settings_of(session)
        lease = timedelta(seconds=2 * settings.webhook_timeout_s + 30)
        claims = await _claim(session, now=now, limit=settings.webhook_batch_size, lease=lease)
    if not claims:
        return 0
    timeout = settings.webhook_timeout_s
    outcomes = await asyncio.gather(*(_attempt(client, c, timeout) for c in claims))
    async with sessionmaker() as session, session.begin():
        await _record(session, list(zip(claims, outcomes, strict=True)), settings)
    return len(claims)


async def _claim(session: Any, *, now: datetime, limit: int, lease: timedelta) -> list[dict]:
    due = (
        sa.select(_d.c.id)
        .join(_s, _s.c.id == _d.c.subscription_id)
        .where(
            _d.c.status == "pending",
            _d.c.next_attempt_at <= now,
            sa.or_(_d.c.claimed_until.is_(None), _d.c.claimed_until < now),
            _s.c.status == "active",
        )
        .order_by(_d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(of=_d, skip_locked=True)
        .cte("due")
    )
    claimed = await session.execute(
        _d.update()
        .where(_d.c.id == due.c.id, _s.c.id == _d.c.subscription_id)
        .values(claimed_until=now + lease)
        .returning(
            _d.c.id,
            _d.c.organization_id,
            _d.c.subscription_id,
            _d.c.event_id,
            _d.c.event_type,
            _d.c.body,
            _d.c.attempts,
            _d.c.failures,
            _d.c.first_attempt_at,
            _s.c.url,
            _s.c.secret,
            _s.c.previous_secret,
            _s.c.previous_secret_expires_at,
        )
    )
    return [dict(row) for row in claimed.mappings()]


async def _attempt(client: httpx.AsyncClient, claim: dict, timeout_s: float) -> Outcome:
    at = datetime.now(UTC)
    started = time.perf_counter()
    keys = signing.signing_secrets(
        claim["secret"], claim["previous_secret"], claim["previous_secret_expires_at"], at
    )
    headers = signing.headers(str(claim["id"]), int(at.timestamp()), claim["body"], keys)
    status_code, error = None, None
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "POST", claim["url"], content=claim["body"].encode(), headers=headers
            ) as response:
                status_code = response.status_code
                answer = await _start_of(response)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}" + (f": {answer}" if answer else "")
    except TimeoutError:
        error = f"no answer within {timeout_s:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a partner's URL must never take the worker down
        log.warning("webhook delivery %s failed unexpectedly", claim["id"], exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    duration = round((time.perf_counter() - started) * 1000, 1)
    return Outcome(at, status_code, error[:500] if error else None, duration)


async def _start_of(response: httpx.Response) -> str:
    """The beginning of the answer, for the log; the rest (up to a limit) is drained."""
    read = bytearray()
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= ANSWER_LIMIT:
            break
    return " ".join(read[:200].decode("utf-8", "replace").split())


_APPEND = sa.bindparam("b_entry", type_=JSONB)
_LOG = sa.case(
    (
        sa.func.jsonb_array_length(_d.c.attempt_log) >= LOG_LIMIT,
        _d.c.attempt_log.op("-", return_type=JSONB)(0).op("||", return_type=JSONB)(_APPEND),
    ),
    else_=_d.c.attempt_log.op("||", return_type=JSONB)(_APPEND),
)
_RESULT = (
    _d.update()
    .where(_d.c.id == sa.bindparam("b_id"), _d.c.status == "pending")
    .values(
        status=sa.bindparam("b_status"),
        attempts=_d.c.attempts + 1,
        failures=sa.bindparam("b_failures"),
        attempt_log=_LOG,
        next_attempt_at=sa.bindparam("b_next"),
        claimed_until=None,
        first_attempt_at=sa.bindparam("b_first"),
        last_attempt_at=sa.bindparam("b_at"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        last_duration_ms=sa.bindparam("b_ms"),
        succeeded_at=sa.bindparam("b_succeeded"),
        failed_at=sa.bindparam("b_failed"),
    )
)


async def _record(session: Any, results: list[tuple[dict, Outcome]], settings: Any) -> None:
    scale = settings.webhook_retry_scale
    rows, finals = [], []
    for claim, outcome in results:
        first = claim["first_attempt_at"] or outcome.at
        failures_ = 0 if outcome.ok else claim["failures"] + 1
        next_at = outcome.at
        if not outcome.ok:
            next_at = retries.next_attempt(
                failures=failures_, first_attempt_at=first, now=outcome.at, scale=scale
            )
        status = "succeeded" if outcome.ok else "pending" if next_at else "failed"
        if status == "failed":
            finals.append((claim, outcome, first))
        rows.append(
            {
                "b_id": claim["id"],
                "b_status": status,
                "b_failures": failures_,
                "b_entry": {
                    "at": outcome.at.isoformat(),
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "duration_ms": outcome.duration_ms,
                },
                "b_next": next_at or outcome.at,
                "b_first": first,
                "b_at": outcome.at,
                "b_code": outcome.status_code,
                "b_error": outcome.error,
                "b_ms": outcome.duration_ms,
                "b_succeeded": outcome.at if outcome.ok else None,
                "b_failed": outcome.at if status == "failed" else None,
            }
        )
    await session.execute(_RESULT, rows)
    await _track_endpoints(session, results)
    for claim, outcome, first in sorted(finals, key=lambda f: str(f[0]["subscription_id"])):
        await failures.give_up(
            session, claim=claim, outcome=outcome, first_attempt_at=first, scale=scale
        )


async def _track_endpoints(session: Any, results: list[tuple[dict, Outcome]]) -> None:
    """`failing_since`: cleared by any success, set by the first failure after one. Rows are only
    touched (and locked) on a change, so a healthy endpoint costs no subscription writes."""
    alive = {c["subscription_id"] for c, o in results if o.ok}
    failing: dict[Any, datetime] = {}
    for claim, outcome in results:
        sid = claim["subscription_id"]
        if not outcome.ok and sid not in alive:
            failing[sid] = min(failing.get(sid, outcome.at), outcome.at)
    if alive:
        await session.execute(
            _s.update()
            .where(_s.c.id.in_(sorted(alive, key=str)), _s.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if failing:
        await session.execute(
            _s.update()
            .where(_s.c.id == sa.bindparam("b_id"), _s.c.failing_since.is_(None))
            .values(failing_since=sa.bindparam("b_since")),
            [{"b_id": sid, "b_since": at} for sid, at in sorted(failing.items(), key=str)],
        )


class _Waker:
    """One LISTEN connection per process wakes every delivery loop when deliveries are added;
    polling covers a wake-up lost while reconnecting."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._waiting: set[asyncio.Event] = set()
        self._connecting = asyncio.Lock()

    def _wake(self, *_: Any) -> None:
        for event in self._waiting:
            event.set()

    async def _listen(self) -> None:
        async with self._connecting:
            if self._conn is not None and not self._conn.is_closed():
                return
            try:
                self._conn = await asyncpg.connect(self._dsn, timeout=5)
                await self._conn.add_listener(CHANNEL, self._wake)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.debug("webhook LISTEN unavailable (%s); polling", exc)
                self._conn = None

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        await self._listen()
        self._waiting.add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiting.discard(event)
            event.clear()

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()


async def deliver_webhooks(runtime: Any) -> None:
    """Background job: `webhook_loops` batches in flight, so one slow endpoint delays only its
    own batch. Off where `webhook_worker` is false (API-only replicas; tests drive run_once)."""
    settings = runtime.spec.settings
    if not settings.webhook_worker:
        return
    waker = _Waker(asyncpg_dsn(settings.database_url))
    try:
        loops = (
            _loop(runtime.sessionmaker, settings, waker) for _ in range(settings.webhook_loops)
        )
        await asyncio.gather(*loops)
    finally:
        await waker.close()


async def _loop(sessionmaker: async_sessionmaker, settings: Any, waker: _Waker) -> None:
    wake = asyncio.Event()
    async with client_for(settings) as client:
        while True:
            try:
                if await run_once(sessionmaker, client):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("webhook delivery pass failed; retrying", exc_info=True)
            await waker.wait(wake, settings.webhook_poll_interval_s)
