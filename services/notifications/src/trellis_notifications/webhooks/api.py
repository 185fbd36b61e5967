"""Partner webhook routes: for an org admin, or a partner client with scope webhooks:manage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from trellis_notifications.deps import remember_admin
from trellis_notifications.webhooks import service
from trellis_notifications.webhooks.models import (
    SCOPE,
    DeliveriesPublic,
    DeliveryPublic,
    DeliveryStatus,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
    WebhookPublic,
    WebhooksPublic,
)
from trellis_shared.auth import CurrentPrincipal, Principal
from trellis_shared.db import SessionDep
from trellis_shared.problems import Problem

router = APIRouter(prefix="/notifications/webhooks", tags=["webhooks"])


async def _manager(principal: CurrentPrincipal, request: Request) -> Principal:
    await remember_admin(request, principal)
    if principal.has_role("org_admin") or (
        principal.has_role("partner") and SCOPE in principal.scope
    ):
        return principal
    raise Problem(403, f"Managing webhooks needs the org_admin role or a partner scope {SCOPE}")


Manager = Annotated[Principal, Depends(_manager)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _public(subscription) -> WebhookPublic:
    public = WebhookPublic.model_validate(subscription)
    expires = public.previous_secret_expires_at
    if expires is not None and expires <= datetime.now(UTC):
        public.previous_secret_expires_at = None  # the overlap is over: one signature again
    return public


def _delivery(delivery: WebhookDelivery) -> DeliveryPublic:
    public = DeliveryPublic.model_validate(delivery)
    if delivery.status != "pending":
        public.next_attempt_at = None
    return public


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a URL to event types; answers the signing secret, this once only",
)
async def create_webhook(
    body: WebhookCreate, principal: Manager, session: SessionDep, response: Response
) -> WebhookCreated:
    await service.check_url(session=session, url=body.url)  # DNS first, outside the transaction
    async with session.begin():
        subscription = await service.create(session=session, principal=principal, body=body)
    response.headers["Location"] = f"/notifications/webhooks/{subscription.id}"
    response.headers["Cache-Control"] = "no-store"
    return WebhookCreated(**_public(subscription).model_dump(), secret=subscription.secret)


@router.get("", response_model=WebhooksPublic, summary="The organization's webhooks (no secrets)")
async def list_webhooks(
    principal: Manager, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> WebhooksPublic:
    found, next_cursor = await service.list_(
        session=session, organization_id=principal.org, limit=limit, cursor=cursor
    )
    return WebhooksPublic(data=[_public(s) for s in found], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookPublic, summary="One webhook (no secret)")
async def read_webhook(
    webhook_id: uuid.UUID, principal: Manager, session: SessionDep
) -> WebhookPublic:
    subscription = await service.get(
        session=session, organization_id=principal.org, subscription_id=webhook_id
    )
    return _public(subscription)


@router.delete("/{webhook_id}", status_code=204, summary="Unsubscribe; its delivery log goes too")
async def delete_webhook(webhook_id: uuid.UUID, principal: Manager, session: SessionDep) -> None:
    async with session.begin():
        await service.delete(
            session=session, organization_id=principal.org, subscription_id=webhook_id
        )


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=SecretRotated,
    summary="A new secret, shown once; the old one keeps signing beside it for 24 h",
)
async def rotate_secret(
    webhook_id: uuid.UUID, principal: Manager, session: SessionDep, response: Response
) -> SecretRotated:
    async with session.begin():
        subscription = await service.rotate_secret(
            session=session, organization_id=principal.org, subscription_id=webhook_id
        )
    response.headers["Cache-Control"] = "no-store"
    return SecretRotated(
        id=subscription.id,
        secret=subscription.secret,
        previous_secret_expires_at=subscription.previous_secret_expires_at,
    )


@router.post(
    "/{webhook_id}/enable",
    response_model=WebhookPublic,
    summary="Switch a disabled webhook back on; waiting deliveries are tried again at once",
)
async def enable_webhook(
    webhook_id: uuid.UUID, principal: Manager, session: SessionDep
) -> WebhookPublic:
    async with session.begin():
        subscription = await service.enable(
            session=session, organization_id=principal.org, subscription_id=webhook_id
        )
    return _public(subscription)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveriesPublic,
    summary="The delivery log, newest first: status, attempts, last answer, timings",
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    principal: Manager,
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveriesPublic:
    found, next_cursor = await service.deliveries(
        session=session,
        organization_id=principal.org,
        subscription_id=webhook_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return DeliveriesPublic(data=[_delivery(d) for d in found], next_cursor=next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=DeliveryPublic,
    summary="Send a delivery again now (same webhook-id and payload, fresh retries)",
)
async def resend_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, principal: Manager, session: SessionDep
) -> DeliveryPublic:
    async with session.begin():
        delivery = await service.resend(
            session=session,
            organization_id=principal.org,
            subscription_id=webhook_id,
            delivery_id=delivery_id,
        )
    return _delivery(delivery)
