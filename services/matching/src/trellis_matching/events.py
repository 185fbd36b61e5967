"""Events matching emits, written to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_shared.contracts import matching as contracts
from trellis_shared.db import settings_of
from trellis_shared.events import EventContract
from trellis_shared.outbox import emit, emit_many, notify_channel

PRODUCES = (
    contracts.MatchProposed,
    contracts.MatchAccepted,
    contracts.MatchDeclined,
    contracts.MatchExpired,
    contracts.MatchingRunCompleted,
)


async def publish(session: AsyncSession, data: EventContract, *, tenant: uuid.UUID) -> None:
    """Write `data` to the outbox in the session's transaction; the relay publishes it."""
    settings = settings_of(session)
    await emit(
        session,
        data,
        tenant=tenant,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )


async def publish_many(
    session: AsyncSession, items: list[EventContract], *, tenant: uuid.UUID
) -> None:
    """`publish` for many events in one round trip (a run proposes thousands)."""
    settings = settings_of(session)
    await emit_many(
        session,
        items,
        tenant=tenant,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )
