"""The partner guide's signature check works on what Trellis actually sends, including during a
secret rotation, and refuses what it should."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from trellis_notifications.webhooks import signing

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "verify_webhook.py"


def _example():
    spec = importlib.util.spec_from_file_location("verify_webhook", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_verifier_accepts_trellis_deliveries_and_refuses_forgeries():
    verify = _example().verify
    old, new = signing.new_secret(), signing.new_secret()
    body = '{"specversion": "1.0", "type": "trellis.sessions.goal.completed.v1"}'
    now = int(time.time())
    sent = signing.headers("dlv_1", now, body, [new, old])  # during a rotation: both sign

    assert verify(new, sent, body.encode())["type"] == "trellis.sessions.goal.completed.v1"
    assert verify(old, sent, body.encode())["specversion"] == "1.0"
    with pytest.raises(ValueError, match="signature"):
        verify(signing.new_secret(), sent, body.encode())
    with pytest.raises(ValueError, match="signature"):
        verify(new, sent, body.replace("goal", "gaol").encode())
    stale = signing.headers("dlv_1", now - 3600, body, [new])
    with pytest.raises(ValueError, match="tolerance"):
        verify(new, stale, body.encode())
