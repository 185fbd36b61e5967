"""Verify a Trellis webhook (Standard Webhooks signature) with nothing but the standard library.

Usage in your receiver: `event = verify(secret, headers, raw_body)`; it returns the CloudEvent as a
dict, or raises ValueError. Run this file to check it against a delivery signed with a test secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

TOLERANCE_S = 5 * 60  # refuse replays of old deliveries


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict:
    """The CloudEvent in `body` if one of its signatures is ours and it is recent."""
    headers = {k.lower(): v for k, v in headers.items()}
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE_S:
        raise ValueError("timestamp outside the tolerance: a replay?")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # Several space-separated signatures arrive while a secret is being rotated.
    for candidate in headers["webhook-signature"].split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise ValueError("no valid signature")


if __name__ == "__main__":
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    body = json.dumps({"specversion": "1.0", "type": "trellis.sessions.goal.completed.v1"}).encode()
    msg_id, ts = "msg_example", str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}"}
    print(verify(secret, headers, body)["type"])
    try:
        verify(secret, headers, body + b" ")
    except ValueError as exc:
        print("tampered body refused:", exc)
