"""When a delivery fails for good: a `webhook.delivery_failed` event, and the auto-disable rule.

The rule: a subscription is disabled when one of its deliveries fails for good (every attempt of
its 24 h retry window failed) while the endpoint has not answered a single attempt with a 2xx for
the whole window (`failing_since` is at least a window ago). An endpoint that answers some
deliveries and fails others stays on; each lost delivery is still reported. Disabling emits
`webhook.disabled` and tells every org admin of the organization notifications knows
(`admins.known_admins`, plus the admin who registered it) in their inbox and by email, whoever
registered it (a partner client has no inbox of its own). It is an operational notice, sent as
critical: neither the at-risk digest switch nor a category turned off silences it, since partner
data stops flowing until an admin acts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications import directory, dispatch, events
from trellis_notifications.catalog import Recipient
from trellis_notifications.email import admins
from trellis_notifications.webhooks import retries
from trellis_notifications.webhooks.models import WebhookSubscription
from trellis_shared.contracts import notifications as contracts

TEMPLATE = "webhook_disabled"
# Critical messages ignore preferences; the category only files the inbox item.
CATEGORY = "account"


async def give_up(
    session: AsyncSession,
    *,
    claim: dict,
    outcome: Any,
    first_attempt_at: datetime,
    scale: float,
) -> None:
    """Report the lost delivery; disable its subscription when the endpoint is dead."""
    subscription = (
        await session.exec(
            select(WebhookSubscription)
            .where(WebhookSubscription.id == claim["subscription_id"])
            .with_for_update()
        )
    ).first()
    if subscription is None:
        return  # deleted while the last attempt was in flight
    at: datetime = outcome.at
    await events.publish(
        session,
        contracts.WebhookDeliveryFailed(
            subscription_id=subscription.id,
            delivery_id=claim["id"],
            source_event_id=claim["event_id"],
            source_event_type=claim["event_type"],
            url=subscription.url,
            attempts=claim["attempts"] + 1,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            first_attempt_at=first_attempt_at,
            failed_at=at,
        ),
        tenant=subscription.organization_id,
    )
    failing_since = subscription.failing_since
    if (
        subscription.status == "active"
        and failing_since is not None
        and failing_since <= at - retries.window(scale)
    ):
        await disable(session, subscription, at=at)


async def disable(
    session: AsyncSession, subscription: WebhookSubscription, *, at: datetime
) -> None:
    failing_since = subscription.failing_since or at
    subscription.status = "disabled"
    subscription.disabled_at = at
    subscription.disabled_reason = (
        f"every delivery attempt has failed since {failing_since:%Y-%m-%d %H:%M:%S} UTC"
    )
    subscription.updated_at = at
    session.add(subscription)
    event = await events.publish(
        session,
        contracts.WebhookDisabled(
            subscription_id=subscription.id,
            url=subscription.url,
            description=subscription.description,
            reason=subscription.disabled_reason,
            failing_since=failing_since,
            created_by=subscription.created_by,
            disabled_at=at,
        ),
        tenant=subscription.organization_id,
    )
    told = set(await admins.known_admins(session, subscription.organization_id))
    if subscription.created_by_person_id is not None:
        told.add(subscription.created_by_person_id)
    people = await directory.people(session, subscription.organization_id, list(told))
    for person_id in sorted(told):
        if person_id in people and people[person_id].erased:
            continue  # critical messages reach the erased too; this one has no reason to
        await dispatch.notify(
            session,
            tenant=subscription.organization_id,
            recipient=Recipient(person_id, "org_admin"),
            source_id=event.id,
            template=TEMPLATE,
            category=CATEGORY,
            data=event.data,
            link=f"/notifications/webhooks/{subscription.id}",
            critical=True,
        )
