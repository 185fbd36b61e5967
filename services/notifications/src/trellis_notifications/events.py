"""Events notifications emits, written to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_shared.contracts import notifications as contracts
from trellis_shared.db import settings_of
from trellis_shared.events import Event, EventContract
from trellis_shared.outbox import emit, notify_channel

PRODUCES = (
    contracts.WebhookDeliveryFailed,
    contracts.WebhookDisabled,
)


async def publish(session: AsyncSession, data: EventContract, *, tenant: uuid.UUID) -> Event[Any]:
    """Write `data` to the outbox in the session's transaction; the relay publishes it."""
    settings = settings_of(session)
    return await emit(
        session,
        data,
        tenant=tenant,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )
