"""Fan-out: an event becomes one delivery per active subscription of its tenant that wants it.

Runs inside the consumer's transaction and only writes rows (a query and one statement for a
batch's events), so a slow or dead partner endpoint never holds up the consumer; the worker
sends. The unique (subscription, event) key makes a redelivered event add nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_notifications.webhooks import signing
from trellis_notifications.webhooks.models import WebhookDelivery, WebhookSubscription
from trellis_shared.events import Event

# The worker LISTENs here so that a new delivery goes out at once rather than at the next poll.
CHANNEL = "trellis_webhooks"

_s, _d = WebhookSubscription.__table__, WebhookDelivery.__table__
_COLUMNS = [
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
# Built once. Which event types each organization's active subscriptions want:
_ACTIVE = sa.select(_s.c.organization_id, _s.c.event_types).where(
    _s.c.status == "active",
    _s.c.organization_id == sa.any_(sa.bindparam("tenants", type_=ARRAY(sa.Uuid))),
)
# and one event's deliveries, a row per subscription of its organization that wants it.
_event_type = sa.bindparam("event_type", type_=sa.Text)
_QUEUE = (
    insert(_d)
    .from_select(
        _COLUMNS,
        sa.select(
            sa.func.gen_random_uuid(),
            _s.c.organization_id,
            _s.c.id,
            sa.bindparam("event_id", type_=sa.Uuid),
            _event_type,
            sa.bindparam("body", type_=sa.Text),
            sa.literal("pending", sa.Text),
            sa.literal(0, sa.Integer),
            sa.literal(0, sa.Integer),
            sa.literal_column("'[]'::jsonb"),
            sa.func.now(),
            sa.func.now(),
        ).where(
            _s.c.organization_id == sa.bindparam("tenant", type_=sa.Uuid),
            _s.c.status == "active",
            _event_type == sa.any_(_s.c.event_types),
        ),
    )
    .on_conflict_do_nothing(constraint="uq_webhook_delivery_event")
)


async def fan_out(session: AsyncSession, events: list[Event[Any]]) -> None:
    """Queue each event for every subscription that wants it.

    One query finds what the events' organizations subscribe to, so an event nobody wants costs
    no more than its share of it (a large import's registrations, with no partner listening)."""
    conn = await session.connection()
    active = await conn.execute(_ACTIVE, {"tenants": list({e.tenant for e in events})})
    wanted = {(tenant, event_type) for tenant, types in active for event_type in types}
    rows = [
        {"event_id": e.id, "event_type": e.type, "tenant": e.tenant, "body": signing.body_of(e)}
        for e in events
        if (e.tenant, e.type) in wanted
    ]
    if rows:
        await conn.execute(_QUEUE, rows)
        await wake(session)


async def wake(session: AsyncSession) -> None:
    """Tell the workers there is something to send (delivered when the transaction commits)."""
    await session.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))
