"""The reminders worker: sends what has come due, in batches claimed with FOR UPDATE SKIP LOCKED,
so any number of replicas share the work and each reminder goes out once.

A batch's messages (inbox items, queued emails: `dispatch.deliver`) and its status changes commit
in one transaction; the inbox and email keys on the reminder's source are the second lock on the
door. A reminder that fires well after its time (the worker was down) still goes out, and says it
is late; one whose meeting has already begun is skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import dispatch
from trellis_notifications.catalog import Recipient
from trellis_notifications.reminders import checkins
from trellis_notifications.reminders.models import MeetingView, Reminder, ReminderFacts
from trellis_shared.inbox import is_transient

log = logging.getLogger("trellis.notifications.reminders")
LATE_AFTER = timedelta(minutes=2)
BATCH_SIZE = 200
PROMPT_BATCH = 50  # mentorships per transaction: each is two messages, one at a time
MAX_ATTEMPTS = 3  # a reminder that cannot be rendered or stored is given up after this many
# Reminders are about a time: their email goes at once (never held for quiet hours nor put in a
# digest: `dispatch` knows the category) and expires at the meeting's start.
TEMPLATE, CATEGORY = "meeting_reminder", "reminders"


@dataclass
class Tally:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    prompted: int = 0


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    late_after: timedelta = LATE_AFTER,
    concurrency: int = 1,
) -> Tally:
    """One pass: every reminder and check-in prompt due at `now` (the clock's time by default).

    `concurrency` batches of reminders are sent at once, each in its own transaction, so a burst
    (every meeting on the hour) drains faster. Check-in prompts go a small batch at a time, with
    the reminders due meanwhile in between: a prompt can wait a minute, a reminder cannot.
    """
    tally = Tally()

    async def drain() -> None:
        while await _reminder_batch(sessionmaker, now, batch_size, late_after, tally) >= batch_size:
            pass

    while True:
        await asyncio.gather(*(drain() for _ in range(concurrency)))
        async with sessionmaker() as session, session.begin():
            prompted = await checkins.prompt_due(
                session, now=now or datetime.now(UTC), limit=PROMPT_BATCH
            )
        tally.prompted += prompted
        if prompted < PROMPT_BATCH:
            return tally


async def run(runtime: Any) -> None:
    """The background job: a pass every `reminders_interval_s` seconds, for as long as the app."""
    settings = runtime.spec.settings
    while True:
        try:
            tally = await run_once(
                runtime.sessionmaker,
                batch_size=settings.reminders_batch_size,
                late_after=timedelta(seconds=settings.reminders_late_after_s),
                concurrency=settings.reminders_concurrency,
            )
            if tally.sent or tally.skipped or tally.failed or tally.prompted:
                log.info("reminders: %s", tally)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("reminders pass failed; retrying", exc_info=True)
        await asyncio.sleep(settings.reminders_interval_s)


def _claim(now: datetime, limit: int):
    # After an outage several leads of one meeting may be due at once: only the shortest is sent
    # (the hour-before reminder, not also the day-before one).
    shorter = aliased(Reminder)
    superseded = (
        select(sa.func.min(shorter.lead_minutes))
        .where(
            shorter.person_id == Reminder.person_id,
            shorter.meeting_id == Reminder.meeting_id,
            shorter.lead_minutes < Reminder.lead_minutes,
            col(shorter.due_at) <= now,
            col(shorter.status).in_(("scheduled", "sent")),
        )
        .scalar_subquery()
    )
    return (
        select(Reminder, MeetingView, superseded)
        .join(MeetingView, col(MeetingView.id) == Reminder.meeting_id, isouter=True)
        .where(Reminder.status == "scheduled", col(Reminder.due_at) <= now)
        .order_by(col(Reminder.due_at))
        .limit(limit)
        .with_for_update(of=Reminder.__table__, skip_locked=True)
    )


async def _reminder_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime | None,
    limit: int,
    late_after: timedelta,
    tally: Tally,
) -> int:
    try:
        async with sessionmaker() as session, session.begin():
            at = now or datetime.now(UTC)
            claimed = (await session.exec(_claim(at, limit))).all()
            decided = [_decide(*row, at, late_after) for row in claimed]
            await dispatch.deliver(session, [m for _, m in decided if m is not None])
            changes = [change for change, _ in decided]
            await _apply(session, changes)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("a reminder batch failed; sending one by one", exc_info=True)
        return await _one_by_one(sessionmaker, now, limit, late_after, tally)
    _count(tally, changes)
    return len(claimed)


async def _one_by_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime | None,
    limit: int,
    late_after: timedelta,
    tally: Tally,
) -> int:
    """The same batch, each reminder in its own savepoint: one that keeps failing is given up
    on (skipped, with the error) instead of holding back every reminder due after it."""
    async with sessionmaker() as session, session.begin():
        at = now or datetime.now(UTC)
        claimed = (await session.exec(_claim(at, limit))).all()
        changes = []
        for row in claimed:
            try:
                async with session.begin_nested():
                    change, message = _decide(*row, at, late_after)
                    await dispatch.deliver(session, [message] if message is not None else [])
            except Exception as exc:
                if is_transient(exc):
                    raise
                change = _failed(row[0], exc)
            changes.append(change)
        await _apply(session, changes)
    _count(tally, changes)
    return len(claimed)


def _decide(
    reminder: Reminder,
    meeting: MeetingView | None,
    superseded: int | None,
    now: datetime,
    late_after: timedelta,
) -> tuple[dict[str, Any], dispatch.Message | None]:
    """Whether the reminder goes out now: the row's new values, and its message if it does."""
    change: dict[str, Any] = {"rid": reminder.id, "attempts": reminder.attempts}
    change |= {"sent_at": None, "late_by": None, "reason": None}
    if meeting is None or meeting.status != "scheduled":
        return change | {"status": "cancelled", "reason": "the meeting is no longer planned"}, None
    if meeting.starts_at <= now:
        return change | {
            "status": "skipped",
            "reason": f"the meeting had already started ({meeting.starts_at:%Y-%m-%d %H:%M} UTC) "
            f"when the reminder went out, {_words(_minutes(now - reminder.due_at))} late",
        }, None
    if superseded is not None:
        return change | {
            "status": "skipped",
            "reason": f"superseded: the {_words(superseded)} reminder was due too",
        }, None
    late = now - reminder.due_at
    message = dispatch.Message(
        tenant=reminder.organization_id,
        recipient=Recipient(reminder.person_id, reminder.role, reminder.other_id),
        source_id=reminder.source_id,
        template=TEMPLATE,
        category=CATEGORY,
        data=ReminderFacts(
            meeting_id=meeting.id,
            mentorship_id=meeting.mentorship_id,
            program_id=meeting.program_id,
            mentor_id=meeting.mentor_id,
            mentee_id=meeting.mentee_id,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            time_zone=meeting.time_zone,
            mode=meeting.mode,
            location=meeting.location,
            lead_minutes=reminder.lead_minutes,
        ),
        link=f"/sessions/meetings/{meeting.id}",
        extra=_wording(reminder.lead_minutes, meeting.starts_at - now, late, late_after),
        # Retried while SMTP is down, but never after the meeting has begun.
        not_after=meeting.starts_at,
    )
    return change | {"status": "sent", "sent_at": now, "late_by": max(late, timedelta(0))}, message


def _failed(reminder: Reminder, exc: Exception) -> dict[str, Any]:
    attempts = reminder.attempts + 1
    return {
        "rid": reminder.id,
        "attempts": attempts,
        "status": "skipped" if attempts >= MAX_ATTEMPTS else "scheduled",
        "reason": f"could not be sent: {type(exc).__name__}: {exc}"[:500],
        "sent_at": None,
        "late_by": None,
    }


_CHANGED = ("status", "reason", "sent_at", "late_by", "attempts")
_UPDATE = (
    sa.update(Reminder.__table__)
    .where(Reminder.__table__.c.id == sa.bindparam("rid"))
    .values(
        status=sa.bindparam("new_status"),
        reason=sa.bindparam("new_reason"),
        sent_at=sa.bindparam("new_sent_at"),
        late_by=sa.bindparam("new_late_by"),
        attempts=sa.bindparam("new_attempts"),
        updated_at=sa.func.now(),
    )
)


async def _apply(session: AsyncSession, changes: list[dict[str, Any]]) -> None:
    if changes:
        rows = [{"rid": c["rid"]} | {f"new_{k}": c[k] for k in _CHANGED} for c in changes]
        await (await session.connection()).execute(_UPDATE, rows)


def _count(tally: Tally, changes: list[dict[str, Any]]) -> None:
    for change in changes:
        if change["status"] == "sent":
            tally.sent += 1
        elif change["status"] == "scheduled":
            tally.failed += 1
        else:
            tally.skipped += 1


def _wording(
    lead: int, starts_in: timedelta, late: timedelta, late_after: timedelta
) -> dict[str, Any]:
    """What the template says about time, beyond `when` (the start, in the reader's zone)."""
    late_minutes = max(_minutes(late), 1) if late > late_after else None
    return {
        "lead_minutes": lead,
        "lead": _words(lead),
        "starts_in": _words(max(_minutes(starts_in), 1)),
        "late_by_minutes": late_minutes,
        "late_by": _words(late_minutes) if late_minutes else None,
    }


def _minutes(delta: timedelta) -> int:
    return round(delta.total_seconds() / 60)


def _words(minutes: int) -> str:
    """60 → "1 hour", 1440 → "24 hours", 90 → "1 hour 30 minutes", 4320 → "3 days"."""
    if minutes >= 2880 and minutes % 1440 == 0:
        return _unit(minutes // 1440, "day")
    hours, rest = divmod(minutes, 60)
    parts = ([_unit(hours, "hour")] if hours else []) + ([_unit(rest, "minute")] if rest else [])
    return " ".join(parts) or _unit(0, "minute")


def _unit(n: int, name: str) -> str:
    return f"{n} {name}" if n == 1 else f"{n} {name}s"
