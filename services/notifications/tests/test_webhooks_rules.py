"""Webhook rules that need no infrastructure: which addresses are refused in production, the
retry schedule, and signatures as the Standard Webhooks library verifies them."""

from __future__ import annotations

import base64
import ipaddress
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from trellis_notifications.webhooks import retries, signing, ssrf
from trellis_shared.contracts import matching as m
from trellis_shared.events import Event


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.20.30.40", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),  # Python calls this one global: it is refused all the same
        ("fd12:3456::1", "unique-local"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::ffff:10.0.0.1", "private"),  # IPv4 hidden in IPv6
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", "reserved"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address, kind):
    assert ssrf.refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:220:1::1", "1.1.1.1"])
def test_public_addresses_are_allowed(address):
    assert ssrf.refusal(ipaddress.ip_address(address)) is None


async def test_production_wants_https_to_hosts_whose_every_address_is_public():
    async def rebinding(host: str, port: int):
        # A name that resolves to a public and a private address is refused: the connection
        # could go to either.
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.7")]

    async def public(host: str, port: int):
        return [ipaddress.ip_address("93.184.215.14")]

    with pytest.raises(ssrf.Refused, match=r"10\.0\.0\.7, a private address"):
        await ssrf.check("https://hooks.example.org/in", production=True, resolver=rebinding)
    await ssrf.check("https://hooks.example.org/in", production=True, resolver=public)
    with pytest.raises(ssrf.Refused, match="only https"):
        await ssrf.check("http://hooks.example.org/in", production=True, resolver=public)
    with pytest.raises(ssrf.Refused, match="loopback"):
        await ssrf.check("https://localhost:8443/in", production=True)
    # Development and tests deliver to local receivers.
    await ssrf.check("http://localhost:9000/in", production=False)
    await ssrf.check("http://127.0.0.1:9000/in", production=False)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "javascript:alert(1)", "http://", "https:///path", "file:///etc"]
)
async def test_only_http_urls_with_a_host_in_any_environment(url):
    with pytest.raises(ssrf.Refused):
        await ssrf.check(url, production=False)


def test_backoff_grows_with_full_jitter_and_stops_at_the_end_of_24_hours():
    first = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    # The cap is reached with a draw of 1: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h.
    caps = [
        retries.next_attempt(failures=n, first_attempt_at=first, now=first, draw=lambda: 1.0)
        - first
        for n in range(1, 8)
    ]
    assert caps == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    # Full jitter: anywhere between now and the cap.
    half = retries.next_attempt(failures=4, first_attempt_at=first, now=first, draw=lambda: 0.5)
    assert half == first + timedelta(hours=1)
    # The last try is made at the end of the window, and nothing after it.
    late = first + timedelta(hours=20)
    last = retries.next_attempt(failures=6, first_attempt_at=first, now=late, draw=lambda: 1.0)
    assert last == first + timedelta(hours=24)
    assert retries.next_attempt(failures=7, first_attempt_at=first, now=last) is None
    # Tests shrink the whole schedule.
    tiny = retries.next_attempt(
        failures=1, first_attempt_at=first, now=first, scale=0.001, draw=lambda: 1.0
    )
    assert tiny == first + timedelta(milliseconds=5)


def test_signatures_verify_with_the_standard_webhooks_library():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    data = m.MatchAccepted(
        match_id=uuid.uuid4(),
        program_id=uuid.uuid4(),
        mentor_id=uuid.uuid4(),
        mentee_id=uuid.uuid4(),
        accepted_at=datetime.now(UTC),
    )
    event = Event.new(data, tenant=uuid.uuid4(), source="trellis/matching")
    body = signing.body_of(event)
    now = datetime.now(UTC)
    headers = signing.headers("d-1", int(now.timestamp()), body, [secret])
    payload = Webhook(secret).verify(body, headers)
    assert payload["id"] == str(event.id) and payload["data"] == json.loads(body)["data"]
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("matching", "Matching"), headers)


def test_the_previous_secret_signs_beside_the_new_one_only_during_the_overlap():
    now = datetime.now(UTC)
    new, old = signing.new_secret(), signing.new_secret()
    during = signing.signing_secrets(new, old, now + timedelta(hours=23), now)
    after = signing.signing_secrets(new, old, now - timedelta(seconds=1), now)
    assert during == [new, old] and after == [new]
    header = signing.headers("d-2", int(now.timestamp()), "{}", during)
    assert len(header["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify("{}", header)
