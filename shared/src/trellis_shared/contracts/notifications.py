"""Events published by the notifications service.

Partner webhooks: a delivery that failed for good, and a subscription switched off after its
endpoint kept failing. Both are keyed by the subscription, so one subscription's story stays in
order. The signing secret never travels in an event.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from trellis_shared.events import EventContract, event


@event("trellis.notifications.webhook.delivery_failed.v1", subject="subscription_id")
class WebhookDeliveryFailed(EventContract):
    """Every attempt to deliver one event to one subscription failed within the retry window."""

    subscription_id: uuid.UUID
    delivery_id: uuid.UUID
    # Not `event_type`: that name is the contract's own type (a field would shadow it).
    source_event_id: uuid.UUID
    source_event_type: str
    url: str
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    first_attempt_at: datetime
    failed_at: datetime


@event("trellis.notifications.webhook.disabled.v1", subject="subscription_id")
class WebhookDisabled(EventContract):
    """A subscription was switched off because its endpoint failed for the whole retry window."""

    subscription_id: uuid.UUID
    url: str
    description: str = ""
    reason: str
    failing_since: datetime
    created_by: str | None = None
    disabled_at: datetime
