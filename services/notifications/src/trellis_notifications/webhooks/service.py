"""Webhook subscriptions of an organization: register, list, rotate, re-enable, delete, and the
delivery log with resend by hand. Every query is scoped by the tenant; another organization's
subscription is not found, exactly like a missing one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_notifications.email import admins
from trellis_notifications.webhooks import signing, ssrf
from trellis_notifications.webhooks.fanout import wake
from trellis_notifications.webhooks.models import (
    DeliveryStatus,
    WebhookCreate,
    WebhookDelivery,
    WebhookSubscription,
)
from trellis_shared.auth import Principal
from trellis_shared.db import get_in_tenant, settings_of
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem


async def check_url(*, session: AsyncSession, url: str) -> None:
    """422 naming body.url unless the URL may receive webhooks in this environment."""
    production = settings_of(session).environment == "production"
    try:
        await ssrf.check(url, production=production)
    except ssrf.Refused as exc:
        raise Problem(
            422, f"Invalid body.url: {exc}", errors=[{"field": "body.url", "message": str(exc)}]
        ) from exc


async def create(
    *, session: AsyncSession, principal: Principal, body: WebhookCreate
) -> WebhookSubscription:
    """A new active subscription with a fresh secret (the caller shows it once)."""
    subscription = WebhookSubscription(
        organization_id=principal.org,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        secret=signing.new_secret(),
        created_by=principal.sub,
        # The admin hears about an auto-disable; a partner client has no inbox.
        created_by_person_id=principal.person_id if principal.has_role("org_admin") else None,
    )
    session.add(subscription)
    if subscription.created_by_person_id is not None:
        await admins.record_admin(
            session, organization_id=principal.org, person_id=subscription.created_by_person_id
        )
    await session.flush()
    return subscription


async def list_(
    *, session: AsyncSession, organization_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[WebhookSubscription], str | None]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.organization_id == organization_id
    )
    return await keyset_page(
        session, query, WebhookSubscription, limit=limit, cursor=cursor, newest_first=True
    )


async def get(
    *, session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID, lock=False
) -> WebhookSubscription:
    return await get_in_tenant(
        session,
        WebhookSubscription,
        subscription_id,
        organization_id=organization_id,
        lock=lock,
    )


async def delete(
    *, session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID
) -> None:
    """The subscription and its delivery log go; nothing more is sent to it."""
    subscription = await get(
        session=session, organization_id=organization_id, subscription_id=subscription_id
    )
    await session.delete(subscription)


async def rotate_secret(
    *, session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """A new secret; the current one keeps signing beside it for the overlap (24 h)."""
    subscription = await get(
        session=session, organization_id=organization_id, subscription_id=subscription_id, lock=True
    )
    now = datetime.now(UTC)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + signing.ROTATION_OVERLAP
    subscription.secret = signing.new_secret()
    subscription.updated_at = now
    session.add(subscription)
    return subscription


async def enable(
    *, session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """Switch a disabled subscription back on; what waited behind it is tried again now, with a
    fresh retry window."""
    subscription = await get(
        session=session, organization_id=organization_id, subscription_id=subscription_id, lock=True
    )
    if subscription.status == "active":
        return subscription
    now = datetime.now(UTC)
    subscription.status = "active"
    subscription.disabled_at = None
    subscription.disabled_reason = None
    subscription.failing_since = None
    subscription.updated_at = now
    session.add(subscription)
    await session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == organization_id,
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status == "pending",
        )
        .values(next_attempt_at=now, first_attempt_at=None, failures=0)
    )
    await wake(session)
    return subscription


async def deliveries(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    subscription_id: uuid.UUID,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[WebhookDelivery], str | None]:
    """The subscription's deliveries, newest first."""
    await get(session=session, organization_id=organization_id, subscription_id=subscription_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.organization_id == organization_id,
        WebhookDelivery.subscription_id == subscription_id,
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return await keyset_page(
        session, query, WebhookDelivery, limit=limit, cursor=cursor, newest_first=True
    )


async def resend(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Queue the delivery again now (same webhook-id and body, a fresh retry window)."""
    subscription = await get(
        session=session, organization_id=organization_id, subscription_id=subscription_id
    )
    if subscription.status != "active":
        raise Problem(
            409,
            f"Webhook {subscription_id} is disabled; enable it before resending",
            slug="webhook-disabled",
        )
    delivery = (
        await session.exec(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.organization_id == organization_id,
                WebhookDelivery.subscription_id == subscription_id,
            )
            .with_for_update()
        )
    ).first()
    if delivery is None:
        raise Problem(404, f"No webhook delivery {delivery_id}")
    delivery.status = "pending"
    delivery.next_attempt_at = datetime.now(UTC)
    delivery.first_attempt_at = None
    delivery.failures = 0
    delivery.succeeded_at = None
    delivery.failed_at = None
    session.add(delivery)
    await wake(session)
    return delivery
