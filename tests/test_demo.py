"""`make demo` at a small size against the test platform (every service a process behind the
gateway): what it says it seeded is there when asked through the API, the partner's receiver
verified signed deliveries, and the drifting mentorship is flagged by the health watch."""

import asyncio
import re
import socket
import subprocess
from collections import Counter

import pytest
from rich.console import Console

from trellis_infra.demo import data
from trellis_infra.demo.journey import COUNT
from trellis_infra.demo.panel import delivered, expected_deliveries
from trellis_infra.demo.receiver import ReceiverProcess, read_log
from trellis_infra.demo.run import run
from trellis_infra.demo.seed import Options
from trellis_infra.demo.show import Show
from trellis_infra.pytest_plugin import bearer, eventually, processes_with
from trellis_shared import tracefile

SWEEP_SECONDS = "3"  # the health watch's period for these processes (600 by default)


@pytest.fixture(scope="module")
def platform(stack):
    """tests/conftest.py's platform, with a health sweep short enough to see the flag."""
    with processes_with(stack, SESSIONS_HEALTH_SWEEP_SECONDS=SWEEP_SECONDS) as platform:
        yield platform


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_same_seed_gives_the_same_organization():
    first = data.generate(mentors=5, mentees=9, seed=3)
    again = data.generate(mentors=5, mentees=9, seed=3)
    assert first.csv("p") == again.csv("p") and first.late == again.late
    assert data.generate(mentors=5, mentees=9, seed=4).csv("p") != first.csv("p")
    assert {p.capacity for p in data.generate(mentors=200, mentees=1, seed=3).mentors} == {
        1, 2, 3, 4, 5,
    }  # fmt: skip


@pytest.mark.timeout(1200)  # the stack, then the demo and the events it sets off, on 2 cores
async def test_the_demo_seeds_what_it_says(platform, gateway, tmp_path):
    # The demo's own receiver runs as a process (it outlives `make demo`); the test stops it.
    opts = Options(
        url=platform.gateway_url,
        out=tmp_path / "demo",
        mentors=15,
        mentees=40,
        seed=11,
        receiver_port=_free_port(),
        watch_pid_file=platform.gateway.pid_file,
        traces=platform.config.state_dir / "traces",
        at_risk_wait=90,
        sweep_note=f"every {SWEEP_SECONDS} s",
    )
    console = Console(record=True, width=400)
    receiver = ReceiverProcess(opts.out / "receiver", opts.receiver_port)
    try:
        await _seeds_what_it_says(gateway, opts, console, receiver)
    finally:
        receiver.stop()


async def _seeds_what_it_says(gateway, opts, console, receiver):
    state = await run(opts, Show(console))
    org, program = state.org, state.program["id"]
    admin = bearer(org=org, roles=["org_admin"])

    async def get(path, headers=admin, **params):
        # The test gateway allows 10 requests a second per token: wait as it says, like the demo.
        response = await gateway.get(path, headers=headers, params=params)
        while response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("retry-after", 1)))
            response = await gateway.get(path, headers=headers, params=params)
        assert response.status_code == 200, f"{path}: {response.text}"
        return response.json()

    # Everyone imported (and the student who registered on their own), with their external ids.
    people = await get("/profiles/people", limit=200)
    expected = {p.external_id for p in [*state.cohort.people, state.cohort.late]}
    assert {p["external_id"] for p in people["data"]} == expected

    # The optimal run completed with its certificate; each side's answer is what the demo says.
    run_ = await get(f"/matching/runs/{state.run['id']}")
    assert run_["status"] == "completed" and run_["results"]["matched"] > 0
    assert run_["results"]["optimality"]["certificate_verified"] is True
    proposals = await get("/matching/proposals", program=program, limit=200)
    statuses = Counter(p["status"] for p in proposals["data"])
    assert statuses["accepted"] == len(state.accepted) > 0
    assert statuses["declined"] == len(state.declined)
    assert statuses["proposed"] == len(state.pending)

    # A mentorship per accepted match, each with its agreement and its recurring meetings.
    mentorships = await get("/sessions/mentorships", program=program, limit=200)
    assert len(mentorships["data"]) == len(state.accepted)
    drifting = state.drifting["id"]
    for m in mentorships["data"]:
        agreement = await get(f"/sessions/mentorships/{m['id']}/agreement")
        meetings = await get(f"/sessions/mentorships/{m['id']}/meetings", limit=50)
        status = Counter(x["status"] for x in meetings["data"])
        if m["id"] == drifting:
            assert agreement["state"] == "partially_signed"
            assert status == {"scheduled": COUNT - 2, "cancelled": 2}
        else:
            assert agreement["state"] == "signed", agreement
            assert status == {"scheduled": COUNT}
            assert len({x["series_id"] for x in meetings["data"]}) == 1

    # The drifting one: flagged by the watch, counted by the report, and the only one.
    health = await get(f"/sessions/mentorships/{drifting}/health")
    assert health["at_risk_since"] is not None and health["score"] < health["threshold"] == 80
    flagged = await get("/sessions/mentorships", program=program, at_risk="true")
    assert [m["id"] for m in flagged["data"]] == [drifting]
    report = await get(f"/sessions/programs/{program}/report")
    assert report["at_risk"] == 1 and report["checkins"]["n"] >= 2

    # The inbox the panel shows has the person's messages, and its curl line works.
    inbox_of = bearer(org=org, roles=["member"], sub=state.inbox_of)
    await eventually(
        lambda: get("/notifications/inbox", headers=inbox_of, limit=50),
        until=lambda inbox: (
            {"welcome", "mentorship_started"} <= {item["kind"] for item in inbox["data"]}
        ),
        timeout=120,
        interval=1.0,
    )
    text = console.export_text()
    assert f"{state.org_name} is seeded" in text
    [curl] = re.findall(r'curl -s \S+/report -H "[^"]+"', text)
    shown = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", curl], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0 and f'"program_id":"{program}"' in shown.stdout, shown

    # The partner's receiver verified every delivery it should get, once each, signed.
    want = expected_deliveries(state)

    async def got():
        return delivered(state)

    await eventually(got, until=lambda found: found == want, timeout=300, interval=1.0)
    logged = read_log(receiver.log, tenant=str(org))
    assert {d.verdict for d in logged} == {"verified"}
    assert len({d.webhook_id for d in logged}) == len(logged) == want.total()
    assert want["mentorship.at_risk"] == 1 and want["match.accepted"] > 0

    # The registration's trace reached the services that consume its event.
    traces = sorted(opts.traces.glob("*.jsonl"))
    services = {
        s.service.removeprefix("trellis-") for s in tracefile.read_spans(traces, state.trace_id)
    }
    assert {"profiles", "matching", "notifications"} <= services
    assert f"trace {state.trace_id}" in text
