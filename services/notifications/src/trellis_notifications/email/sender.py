"""The email worker: sends due email_delivery rows over SMTP.

Each pass claims a batch of due rows in a short transaction (FOR UPDATE SKIP LOCKED, so replicas
share the work) and leases them by moving due_at ahead; it sends outside any transaction, then
records the outcomes. A worker that dies mid-pass leaves its rows to be claimed again when the
lease ends: they go out once more with the same Message-ID, so a resend is recognisable.

Outcomes: sent; a transient failure (refused connection, timeout, 4xx) retries with exponential
backoff and jitter until `email_give_up_after_h` has passed since the row was written, then
fails; a permanent 5xx fails at once. An unknown address waits for the person's registration to
arrive, within the same window. A message still unsent at its `not_after` (a meeting reminder
once the meeting has begun) expires instead: it is never sent. Critical messages keep no address
nor content once done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from trellis_notifications import directory
from trellis_notifications.deliveries import EmailDelivery
from trellis_notifications.email import compose, digest
from trellis_notifications.preferences.models import Preference
from trellis_notifications.preferences.service import Effective
from trellis_notifications.settings import NotificationsSettings

log = logging.getLogger("trellis.notifications.email")
_t = EmailDelivery.__table__
_ERROR_LIMIT = 500


@dataclass
class Pass:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suppressed: int = 0
    expired: int = 0
    waiting_for_address: int = 0


@dataclass
class _Attempt:
    row: Any
    error: str | None = None
    permanent: bool = False


async def run_once(
    sessionmaker: async_sessionmaker,
    settings: NotificationsSettings,
    *,
    now: datetime | None = None,
) -> Pass:
    """One pass: claim the emails due at `now`, send them, record what happened."""
    now = now or datetime.now(UTC)
    done = Pass()
    async with sessionmaker() as session, session.begin():
        ready = await _claim(session, settings, now, done)
    if ready:
        attempts = await _send(ready, settings, now)
        async with sessionmaker() as session, session.begin():
            await _record(session, settings, attempts, now, done)
    return done


async def job(runtime: Any) -> None:
    """The worker: compose due digests, then send until nothing is due; again every interval."""
    settings: NotificationsSettings = runtime.spec.settings
    while True:
        try:
            await digest.run_once(runtime.sessionmaker, settings)
            while True:
                done = await run_once(runtime.sessionmaker, settings)
                if done.failed or done.retrying:
                    log.warning("email pass: %s", done)
                if done.claimed < settings.email_batch_size:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("email pass failed; trying again at the next interval")
        await asyncio.sleep(settings.email_interval_s)


async def _claim(
    session: AsyncSession, settings: NotificationsSettings, now: datetime, done: Pass
) -> list[Any]:
    ids = (
        (
            await session.execute(
                sa.select(_t.c.id)
                .where(_t.c.status == "queued", _t.c.due_at <= now)
                .order_by(_t.c.due_at)
                .limit(settings.email_batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    rows = (
        await session.execute(
            sa.update(_t)
            .where(_t.c.id.in_(ids))
            .values(
                due_at=now + timedelta(seconds=settings.email_lease_s),
                planned_at=sa.func.coalesce(_t.c.planned_at, _t.c.due_at),
            )
            .returning(*_t.c)
        )
    ).all()
    rows = [SimpleNamespace(**row._mapping) for row in rows]
    done.claimed = len(rows)
    return await _sendable(session, settings, rows, now, done)


async def _sendable(
    session: AsyncSession,
    settings: NotificationsSettings,
    rows: list[Any],
    now: datetime,
    done: Pass,
) -> list[Any]:
    """The rows that can go now; the others are settled here (suppressed, waiting, failed)."""
    people: dict[uuid.UUID, directory.PersonView] = {}
    for tenant in {r.organization_id for r in rows}:
        people |= await directory.people(
            session, tenant, [r.person_id for r in rows if r.organization_id == tenant]
        )
    channels = dict(
        (
            await session.execute(
                sa.select(Preference.person_id, Preference.channels).where(
                    sa.tuple_(Preference.person_id, Preference.organization_id).in_(
                        list({(r.person_id, r.organization_id) for r in rows})
                    )
                )
            )
        ).all()
    )
    ready: list[Any] = []
    changes: list[tuple[Any, dict[str, Any]]] = []
    for row in rows:
        person = people.get(row.person_id)
        wanted = Effective(channels=channels.get(row.person_id) or {}).allows(row.category, "email")
        if not row.critical and ((person is not None and person.erased) or not wanted):
            # Switched off (or erased) after it was queued: it never goes.
            changes.append((row, {"status": "suppressed"}))
            done.suppressed += 1
        elif row.not_after is not None and now >= row.not_after:
            log.info(
                "email %s (%s) expired unsent at %s after %d attempts",
                row.id,
                row.template,
                row.not_after.isoformat(),
                row.attempts,
            )
            error = f"expired: still unsent at {row.not_after:%Y-%m-%d %H:%M} UTC" + (
                f" (last error: {row.last_error})" if row.last_error else ""
            )
            changes.append((row, _finished(row, status="expired", error=error)))
            done.expired += 1
        elif row.to_address is None and person is not None and person.email:
            changes.append((row, {"to_address": person.email}))
            row.to_address = person.email
            ready.append(row)
        elif row.to_address is None:
            if now >= _deadline(row, settings):
                changes.append((row, _finished(row, status="failed", error="no address")))
                done.failed += 1
            else:
                wait = timedelta(seconds=settings.email_retry_base_s)
                changes.append((row, {"due_at": now + wait}))
                done.waiting_for_address += 1
        else:
            ready.append(row)
    await _update_all(session, changes)
    return ready


async def _send(rows: list[Any], settings: NotificationsSettings, now: datetime) -> list[_Attempt]:
    lanes = [rows[i :: settings.email_connections] for i in range(settings.email_connections)]
    results = await asyncio.gather(*(_send_lane(lane, settings, now) for lane in lanes if lane))
    return [attempt for lane in results for attempt in lane]


async def _send_lane(
    rows: list[Any], settings: NotificationsSettings, now: datetime
) -> list[_Attempt]:
    """Send the rows one after the other over one SMTP connection."""
    attempts: list[_Attempt] = []
    client: aiosmtplib.SMTP | None = None
    unreachable: str | None = None
    sender = parseaddr(settings.mail_from)[1]
    try:
        for row in rows:
            try:
                message = compose.build(
                    row, settings, now=now, late_by_min=_late_by(row, settings, now)
                )
            except Exception as exc:
                log.exception("cannot render email %s (%s)", row.id, row.template)
                attempts.append(_Attempt(row, f"cannot render: {exc}", permanent=True))
                continue
            if unreachable is not None:
                # The server did not answer for an earlier row: no point waiting on it again.
                attempts.append(_Attempt(row, unreachable))
                continue
            try:
                if client is None:
                    client = aiosmtplib.SMTP(
                        hostname=settings.smtp_host,
                        port=settings.smtp_port,
                        username=settings.smtp_username,
                        password=settings.smtp_password,
                        start_tls=settings.smtp_starttls,
                        timeout=settings.smtp_timeout_s,
                    )
                    try:
                        await client.connect()
                    except Exception as exc:
                        client = None
                        unreachable = classify(exc)[0]
                        raise
                # An address beyond ASCII needs the server's SMTPUTF8 (RFC 6531).
                utf8 = [] if row.to_address.isascii() else ["SMTPUTF8"]
                await client.sendmail(sender, [row.to_address], message, mail_options=utf8)
                attempts.append(_Attempt(row))
            except Exception as exc:
                error, permanent = classify(exc)
                attempts.append(_Attempt(row, error, permanent))
                if isinstance(exc, OSError):
                    # Lost or timed out: the rest of the lane waits for the next pass rather
                    # than for one timeout each.
                    unreachable, client = error, None
    finally:
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except Exception:
                client.close()
    return attempts


def classify(exc: BaseException) -> tuple[str, bool]:
    """The error as recorded, and whether it is permanent (retrying cannot help)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        error = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return error, all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(
        exc,
        aiosmtplib.SMTPConnectError
        | aiosmtplib.SMTPAuthenticationError
        | aiosmtplib.SMTPSenderRefused,
    ):
        # About the server or our own account, not this message: worth another try later.
        return f"{type(exc).__name__}: {exc}", False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}", 500 <= exc.code < 600
    if isinstance(exc, ValueError):  # an address SMTP cannot carry
        return f"{type(exc).__name__}: {exc}", True
    return f"{type(exc).__name__}: {exc}", False


def _deadline(row: Any, settings: NotificationsSettings) -> datetime:
    return row.created_at + timedelta(hours=settings.email_give_up_after_h)


def _late_by(row: Any, settings: NotificationsSettings, now: datetime) -> int | None:
    minutes = int((now - (row.planned_at or row.due_at)).total_seconds() // 60)
    return minutes if minutes >= settings.email_late_after_min else None


def _backoff(attempt: int, settings: NotificationsSettings) -> timedelta:
    """Exponential, capped, with jitter so that a recovering server is not hit all at once."""
    ceiling = min(settings.email_retry_max_s, settings.email_retry_base_s * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


def _finished(row: Any, *, status: str, error: str | None = None, **values: Any) -> dict[str, Any]:
    values |= {"status": status, "last_error": error[:_ERROR_LIMIT] if error else None}
    if row.critical:
        # An erasure confirmation must not outlive its sending with the person's address or name.
        values |= {"to_address": None, "context": {}}
    return values


async def _record(
    session: AsyncSession,
    settings: NotificationsSettings,
    attempts: list[_Attempt],
    now: datetime,
    done: Pass,
) -> None:
    changes: list[tuple[Any, dict[str, Any]]] = []
    for attempt in attempts:
        row, tries = attempt.row, attempt.row.attempts + 1
        if attempt.error is None:
            values = _finished(row, status="sent", sent_at=now)
            done.sent += 1
        elif attempt.permanent or now >= _deadline(row, settings):
            values = _finished(row, status="failed", error=attempt.error)
            done.failed += 1
        else:
            # Not past its expiry either: it is settled (expired) as soon as it is too late.
            deadline = _deadline(row, settings)
            retry_at = min(now + _backoff(tries, settings), deadline, row.not_after or deadline)
            values = {"due_at": retry_at, "last_error": attempt.error[:_ERROR_LIMIT]}
            done.retrying += 1
        changes.append((row, values | {"attempts": tries}))
    await _update_all(session, changes)


async def _update_all(session: AsyncSession, changes: list[tuple[Any, dict[str, Any]]]) -> None:
    """Each row's new values, one executemany per set of columns changed (few in a pass)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row, values in changes:
        params = {f"new_{k}": v for k, v in values.items()} | {"row_id": row.id}
        by_columns.setdefault(tuple(sorted(values)), []).append(params)
    for columns, params in by_columns.items():
        await session.execute(_update_statement(columns), params)


@functools.cache
def _update_statement(columns: tuple[str, ...]) -> sa.Update:
    # Only while still queued: an erasure may have removed or settled it meanwhile.
    return (
        sa.update(_t)
        .where(_t.c.id == sa.bindparam("row_id"), _t.c.status == "queued")
        .values({c: sa.bindparam(f"new_{c}", type_=_t.c[c].type) for c in columns})
    )
