"""Unsubscribe tokens: who (person, organization) stops which categories of email.

HMAC-SHA256 over the claim with a secret of the service, so a link cannot be forged or turned to
another person or category. They do not expire: an unsubscribe link in an old email must still
work (RFC 8058 asks for it to keep working).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

_VERSION = "u1"


class BadToken(ValueError):
    """The token is malformed or its signature does not match."""


@dataclass(frozen=True)
class Unsubscribe:
    person_id: uuid.UUID
    organization_id: uuid.UUID
    categories: tuple[str, ...]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def sign(claim: Unsubscribe, secret: str) -> str:
    payload = ":".join(
        [_VERSION, claim.person_id.hex, claim.organization_id.hex, ",".join(claim.categories)]
    )
    return f"{_b64(payload.encode())}.{_b64(_signature(secret, payload))}"


def verify(token: str, secret: str) -> Unsubscribe:
    try:
        encoded, _, signature = token.partition(".")
        payload = _unb64(encoded).decode()
        valid = hmac.compare_digest(_unb64(signature), _signature(secret, payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadToken("malformed token") from exc
    if not valid:
        raise BadToken("bad signature")
    try:
        version, person, organization, categories = payload.split(":")
        if version != _VERSION or not categories:
            raise ValueError(version)
        return Unsubscribe(uuid.UUID(person), uuid.UUID(organization), tuple(categories.split(",")))
    except ValueError as exc:
        raise BadToken("malformed claim") from exc
