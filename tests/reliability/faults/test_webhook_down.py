"""A partner's endpoint down for a long while (its port closed) as events keep coming: with the
retry schedule shrunk so that its window still outlasts the outage, every delivery arrives once
after the endpoint is back, each signed validly, and the subscription stays on."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.reliability.conftest import scale
from tests.reliability.faults.cohorts import Org
from tests.reliability.faults.conftest import Retrier, settled, subscribe_everything
from trellis_infra.pytest_plugin import eventually

DOWN_S = scale(20, 600)
EVENTS = scale(15, 60)  # people registered while the endpoint is down, spread over the outage
# The retry window is 24 h times the scale: twice the outage here, so that a delivery first
# tried when the endpoint went down still has tries left after it is back.
RETRY_SCALE = 2 * DOWN_S / 86_400
SERVICE_ENV = {"NOTIFICATIONS_WEBHOOK_RETRY_SCALE": f"{RETRY_SCALE:.6f}"}


@pytest.mark.timeout(scale(400, 2400))
async def test_every_delivery_arrives_once_after_the_endpoint_recovers(
    gateway, platform, receiver, figures
):
    retrier = Retrier(gateway)
    org = Org(retrier)
    hook = await subscribe_everything(retrier, org.admin, receiver, description="down")
    deliveries_url = f"/notifications/webhooks/{hook['id']}/deliveries"
    await receiver.down()
    went_down = time.monotonic()
    program = await org.program("While the partner is away")
    expected = {("trellis.profiles.program.created.v1", program["id"])}
    for n in range(EVENTS):
        person = await org.person(f"Person {n}")
        expected.add(("trellis.profiles.person.registered.v1", person["id"]))
        await asyncio.sleep(
            max(0.0, went_down + (n + 1) * DOWN_S / (EVENTS + 1) - time.monotonic())
        )

    async def tried() -> list[dict]:
        return await org.all_pages(deliveries_url, org.admin)

    # Every delivery was attempted against the closed port before it comes back.
    await eventually(
        tried,
        until=lambda ds: len(ds) == len(expected) and all(d["attempts"] >= 1 for d in ds),
        timeout=max(30, DOWN_S - (time.monotonic() - went_down)),
    )
    assert receiver.verified == []
    await asyncio.sleep(max(0.0, DOWN_S - (time.monotonic() - went_down)))
    logged = await tried()
    failed_attempts = sum(d["attempts"] for d in logged)
    await receiver.up()
    back = time.monotonic()

    def arrived() -> set[tuple[str, str]]:
        return {(e["type"], e["subject"]) for _, e in receiver.verified}

    async def probe() -> set[tuple[str, str]]:
        return arrived()

    await settled(probe, until=lambda got: expected <= got, timeout=2 * DOWN_S + 120)
    last_arrival = time.monotonic() - back
    # Retries still due would show up as duplicates: wait until none is pending.
    final = await settled(
        tried, until=lambda ds: all(d["status"] != "pending" for d in ds), timeout=120
    )
    per_event = Counter((e["type"], e["subject"]) for _, e in receiver.verified)
    lost = expected - arrived()
    duplicated = sum(n - 1 for n in per_event.values() if n > 1)
    figures.summary(
        load=f"{len(expected)} events while the partner's endpoint was down",
        faults=f"webhook endpoint down {DOWN_S} s",
        cases=len(expected),
        lost=len(lost),
        duplicated=duplicated,
        errors_5xx=retrier.retried["5xx"],
    )
    figures.add("endpoint down", DOWN_S, "s")
    figures.add("retry scale (window)", f"{RETRY_SCALE:.5f} ({RETRY_SCALE * 24 * 60:.1f} min)")
    figures.add("deliveries expected", len(expected))
    figures.add("attempts refused while down", failed_attempts)
    figures.add("delivered after recovery", len(per_event))
    figures.add("lost", len(lost))
    figures.add("duplicated", duplicated)
    figures.add("bad signatures", len(receiver.refused))
    figures.add("last delivery after recovery", round(last_arrival, 1), "s")
    assert not lost, lost
    assert duplicated == 0, per_event
    assert set(per_event) == expected
    assert receiver.refused == []
    ids = [webhook_id for webhook_id, _ in receiver.verified]
    assert len(ids) == len(set(ids))
    assert {d["status"] for d in final} == {"succeeded"}, final
    assert all(d["attempts"] >= 2 for d in final)
    subscription = await retrier.send("GET", f"/notifications/webhooks/{hook['id']}", org.admin)
    assert subscription.json()["status"] == "active", subscription.text
