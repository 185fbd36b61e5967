"""Standard Webhooks signing and the payload partners receive (a CloudEvent, structured JSON).

Secrets are "whsec_" + base64 of 32 random bytes; the HMAC key is the decoded bytes. A signature
is "v1,<base64 HMAC-SHA256(key, f'{webhook-id}.{webhook-timestamp}.{body}')>"; during a secret
rotation each delivery carries one per valid secret, space-separated, so receivers can switch to
the new secret at their own pace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from trellis_shared.events import Event

PREFIX = "whsec_"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def signatures(secrets_: Iterable[str], msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: one signature per secret, space-separated."""
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets_)


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return [secret, previous]
    return [secret]


def headers(msg_id: str, timestamp: int, body: str, secrets_: list[str]) -> dict[str, str]:
    return {
        "content-type": CONTENT_TYPE,
        "user-agent": "Trellis-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures(secrets_, msg_id, timestamp, body),
    }


def cloud_event(event: Event[Any]) -> dict[str, Any]:
    """The event as a CloudEvents 1.0 structured-mode JSON object."""
    return {
        "specversion": "1.0",
        "id": str(event.id),
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "tenant": str(event.tenant),
        "datacontenttype": "application/json",
        "data": event.data.model_dump(mode="json"),
    }


def body_of(event: Event[Any]) -> str:
    return json.dumps(cloud_event(event), separators=(",", ":"), ensure_ascii=False)
