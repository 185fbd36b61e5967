"""Reminders before meetings and check-in prompts on the mentorship's cadence: durable scheduled
jobs in notifications' own tables, kept in step with sessions' events and sent by a worker."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.reminders import checkins, meetings
from trellis_notifications.reminders.worker import Tally, run, run_once
from trellis_shared.events import Event

__all__ = ["Tally", "erase_person", "run", "run_once", "track"]


async def track(session: AsyncSession, event: Event) -> None:
    """Plan, move or drop what the event changes (called in the consumer's transaction)."""
    if event.type in meetings.EVENT_TYPES:
        await meetings.track(session, event.type, event.tenant, event.data)
    elif event.type in checkins.EVENT_TYPES:
        await checkins.track(session, event.tenant, event.data)


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    """The person's reminders go with the rest of their messages."""
    await meetings.erase_person(session, tenant, person_id)
