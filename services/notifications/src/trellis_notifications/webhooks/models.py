"""Partner webhooks: subscriptions, their deliveries (one per subscription and event, with every
attempt logged), and what the API takes and shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field as SQLField

import trellis_shared.contracts  # noqa: F401  (registers every contract)
from trellis_notifications.models import NotificationsTable, optional_timestamp, timestamp
from trellis_notifications.webhooks import ssrf
from trellis_shared.events import registered_contracts

SCOPE = "webhooks:manage"
SubscriptionStatus = Literal["active", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
# Notifications' own events (a delivery failed, a subscription was disabled) are not offered:
# a failing endpoint subscribed to them would feed itself forever.
OWN_PREFIX = "trellis.notifications."


class WebhookSubscription(NotificationsTable, table=True):
    __tablename__ = "webhook_subscription"
    __table_args__ = (
        sa.Index("ix_webhook_subscription_org", "organization_id", "status"),
        sa.CheckConstraint(
            "status IN ('active', 'disabled')", name="ck_webhook_subscription_status"
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID
    url: str
    event_types: list[str] = SQLField(sa_type=pg.ARRAY(sa.Text))
    description: str = ""
    # Kept as is because every delivery is signed with it (HMAC needs the key itself); only this
    # service's role can read the schema. Encrypting it at rest with a managed key is a known gap.
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = optional_timestamp()
    status: str = "active"
    disabled_at: datetime | None = optional_timestamp()
    disabled_reason: str | None = None
    # Since when every attempt to this endpoint has failed (NULL after any success).
    failing_since: datetime | None = optional_timestamp()
    created_by: str
    created_by_person_id: uuid.UUID | None = None
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class WebhookDelivery(NotificationsTable, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # One delivery per subscription and event: a redelivered event adds nothing.
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        sa.Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("ix_webhook_delivery_subscription", "subscription_id", "created_at", "id"),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name="ck_webhook_delivery_status"
        ),
    )

    id: uuid.UUID = SQLField(default_factory=uuid.uuid4, primary_key=True)  # the webhook-id
    organization_id: uuid.UUID
    subscription_id: uuid.UUID = SQLField(
        sa_column_args=[sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE")]
    )
    event_id: uuid.UUID
    event_type: str
    body: str  # the exact bytes signed and sent, the same on every attempt
    status: str = "pending"
    attempts: int = 0
    failures: int = 0  # failed attempts in a row in the current retry window (sets the backoff)
    # [{at, status_code, error, duration_ms}], oldest first, the last 50 attempts.
    attempt_log: list[dict] = SQLField(default_factory=list, sa_type=pg.JSONB)
    next_attempt_at: datetime = timestamp()
    claimed_until: datetime | None = optional_timestamp()  # a worker is sending it until then
    first_attempt_at: datetime | None = optional_timestamp()  # start of the retry window
    last_attempt_at: datetime | None = optional_timestamp()
    last_status_code: int | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None
    succeeded_at: datetime | None = optional_timestamp()
    failed_at: datetime | None = optional_timestamp()
    created_at: datetime = timestamp()


def _deliverable(event_type: str) -> str:
    if event_type not in registered_contracts():
        raise ValueError(f"unknown event type {event_type!r}")
    if event_type.startswith(OWN_PREFIX):
        raise ValueError(f"{event_type} is not offered by webhook (notifications' own event)")
    return event_type


def _http_url(url: str) -> str:
    ssrf.parse(url)
    return url


EventType = Annotated[str, Field(max_length=200), AfterValidator(_deliverable)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(max_length=2000), AfterValidator(_http_url)] = Field(
        description="Where deliveries are POSTed; https on a public address in production"
    )
    event_types: list[EventType] = Field(
        min_length=1,
        max_length=200,
        description="Trellis event types, e.g. `trellis.matching.match.accepted.v1`",
    )
    description: str = Field(default="", max_length=500)

    @field_validator("event_types")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str
    status: SubscriptionStatus
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None = Field(description="Every attempt has failed since then")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries carry a second signature, made with the old secret"
    )
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="Shown this once: verify every delivery's signature with it")


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]
    next_cursor: str | None = None


class SecretRotated(BaseModel):
    id: uuid.UUID
    secret: str = Field(description="The new secret, shown this once")
    previous_secret_expires_at: datetime = Field(
        description="The old secret keeps signing (a second signature) until then"
    )


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The `webhook-id` header: the same on every attempt")
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: float | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When it is tried again, while pending")
    succeeded_at: datetime | None
    failed_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptPublic]


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
    next_cursor: str | None = None
