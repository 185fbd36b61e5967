"""Fan-out: an event becomes one delivery per active subscription of its tenant that wants it.

Runs inside the consumer's transaction and only writes rows (one statement), so a slow or dead
partner endpoint never holds up the consumer; the worker sends. The unique (subscription, event)
key makes a redelivered event add nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_notifications.webhooks import signing
from trellis_notifications.webhooks.models import WebhookDelivery, WebhookSubscription
from trellis_shared.events import Event

# The worker LISTENs here so that a new delivery goes out at once rather than at the next poll.
CHANNEL = "trellis_webhooks"


async def fan_out(session: AsyncSession, event: Event[Any]) -> int:
    """Queue `event` for every subscription that wants it; how many deliveries were added."""
    s, d = WebhookSubscription.__table__, WebhookDelivery.__table__
    wanted = sa.select(
        sa.func.gen_random_uuid(),
        s.c.organization_id,
        s.c.id,
        sa.literal(event.id, sa.Uuid),
        sa.literal(event.type, sa.Text),
        sa.literal(signing.body_of(event), sa.Text),
        sa.literal("pending", sa.Text),
        sa.literal(0, sa.Integer),
        sa.literal(0, sa.Integer),
        sa.literal_column("'[]'::jsonb"),
        sa.func.now(),
        sa.func.now(),
    ).where(
        s.c.organization_id == event.tenant,
        s.c.status == "active",
        sa.literal(event.type, sa.Text) == sa.any_(s.c.event_types),
    )
    columns = [
        "id",
        "organization_id",
        "subscription_id",
        "event_id",
        "event_type",
        "body",
        "status",
        "attempts",
        "failures",
        "attempt_log",
        "next_attempt_at",
        "created_at",
    ]
    result = await session.execute(
        insert(d)
        .from_select(columns, wanted)
        .on_conflict_do_nothing(constraint="uq_webhook_delivery_event")
    )
    added = result.rowcount or 0
    if added:
        await wake(session)
    return added


async def wake(session: AsyncSession) -> None:
    """Tell the workers there is something to send (delivered when the transaction commits)."""
    await session.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))
