"""The demo's end: wait (a bounded time) for what happens on its own - the health watch's flag,
the partner's deliveries, the trace's spans - then print what to open, and keep it in demo.json."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

from rich.panel import Panel
from rich.table import Table

from trellis_infra.demo.client import Api
from trellis_infra.demo.receiver import read_log
from trellis_infra.demo.seed import Seeded
from trellis_infra.demo.show import Show
from trellis_shared import tracefile

JAEGER = "http://localhost:16686/trace/"
DEFAULT_TRACES = Path(".trellis/up/traces")


def _shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _curl(api: Api, path: str, token_file: Path) -> str:
    token = f"$(cat {shlex.quote(_shown(token_file))})"
    return f'curl -s {api.base_url}{path} -H "Authorization: Bearer {token}"'


async def await_flag(api: Api, show: Show, state: Seeded) -> None:
    """The health watch flags the drifting mentorship at its next sweep."""
    url = f"/sessions/mentorships/{state.drifting['id']}/health"
    wait = state.opts.at_risk_wait
    if wait <= 0:
        return
    with show.bar("The health watch flags the drifting pair", total=None) as bar:
        bar.say(state.opts.sweep_note)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            state.health = await api.call("GET", url)
            if state.health["at_risk_since"]:
                bar.update(total=1, completed=1)
                return
            await asyncio.sleep(2)


def expected_deliveries(state: Seeded) -> Counter[str]:
    """What the partner's subscription should receive for what the demo did, by event type
    (`trellis.<service>.<this part>.v1`)."""
    c = state.counts
    return Counter(
        {
            "matching_run.completed": c.get("runs", 0) + 1,  # the dry runs and the optimal one
            "match.accepted": len(state.accepted),
            "match.declined": len(state.declined),
            "mentorship.started": len(state.accepted),
            # Each signature; the drifting pair's student signed alone.
            "agreement.signed": 2 * c.get("agreements", 0) + 1,
            "meeting.cancelled": 2,
            "checkin.submitted": c.get("checkins", 0) + 2,
            "feedback.submitted": c.get("feedback", 0),
            "mentorship.at_risk": int(bool(state.health.get("at_risk_since"))),
        }
    )


def delivered(state: Seeded) -> Counter[str]:
    """What the partner's receiver has logged for the demo's organization, by event type."""
    found = read_log(state.receiver.log, tenant=str(state.org)) if state.receiver else []
    return Counter(d.event_type.split(".", 2)[-1].rsplit(".", 1)[0] for d in found)


async def settle(show: Show, state: Seeded) -> None:
    """Notifications works through the demo's events after the requests have returned: the
    partner's deliveries tell how far it has got. Waits a bounded time; the panel says the rest."""
    if state.receiver is None or state.opts.settle <= 0:
        return
    want = expected_deliveries(state).total()
    with show.bar("Partner webhook deliveries (notifications catching up)", total=want) as bar:
        deadline = time.monotonic() + state.opts.settle
        while time.monotonic() < deadline:
            got = delivered(state).total()
            bar.update(completed=min(got, want))
            if got >= want:
                return
            await asyncio.sleep(2)


async def _trace_services(state: Seeded) -> set[str]:
    """The services the registration's trace has reached, once profiles' span is written."""
    traces = state.opts.traces
    if traces is None or not traces.exists():
        return set()
    seen: set[str] = set()
    for _ in range(10):
        files = sorted(traces.glob("*.jsonl"))
        spans = await asyncio.to_thread(tracefile.read_spans, files, state.trace_id)
        seen = {s.service.removeprefix("trellis-") for s in spans}
        if {"profiles", "matching", "notifications"} <= seen:
            break
        await asyncio.sleep(2)
    return seen


async def finish(api: Api, show: Show, state: Seeded) -> None:
    opts = state.opts
    show.step("Waiting for what happens on its own")
    await await_flag(api, show, state)
    await settle(show, state)
    tokens = opts.out / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    admin_file = tokens / f"{state.slug}-admin.jwt"
    admin_file.write_text(api.token())
    person = state.people[state.inbox_of]
    person_file = tokens / f"{state.slug}-{person.external_id}.jwt"
    person_file.write_text(api.token(state.inbox_of))
    inbox = await api.call("GET", "/notifications/inbox", as_=state.inbox_of)
    report = await api.call("GET", f"/sessions/programs/{state.program['id']}/report")
    deliveries = read_log(state.receiver.log, tenant=str(state.org)) if state.receiver else []
    verified = sum(d.verdict == "verified" for d in deliveries)
    services = await _trace_services(state)
    mail = sorted(opts.mail.glob("*.eml")) if opts.mail and opts.mail.exists() else []
    program, drifting, health = state.program["id"], state.drifting["id"], state.health
    mentee, mentor = (state.people[state.drifting[k]] for k in ("mentee_id", "mentor_id"))

    facts, commands = [], []
    counts, checkins = report["mentorships"], report["checkins"]
    facts.append(
        (
            "Program report",
            f"{counts['active']} active mentorships, {report['at_risk']} at risk; "
            f"{checkins['n']} check-ins (mean {checkins['mean_rating'] or 0:.1f}), "
            f"{report['feedback']['n']} feedback",
        )
    )
    commands.append(
        ("the program report", _curl(api, f"/sessions/programs/{program}/report", admin_file))
    )
    newest = inbox["data"][0]["title"] if inbox["data"] else "none yet"
    facts.append(
        (
            "An inbox",
            f"{person.full_name} (a student): {inbox['unread_count']} unread so far, "
            f"the newest “{newest}”",
        )
    )
    commands.append(
        (f"{person.full_name}'s inbox", _curl(api, "/notifications/inbox", person_file))
    )
    if opts.mail and (opts.mail / "index.html").exists():
        facts.append(
            (
                "Emails caught",
                f"{len(mail)} so far, more as notifications sends them (and each meeting's "
                "reminders, 24 h and 1 h ahead)",
            )
        )
        commands.append(("the emails caught (a page)", _shown(opts.mail / "index.html")))
    if state.receiver:
        facts.append(
            (
                "Webhook log",
                f"{verified} of {expected_deliveries(state).total()} signed deliveries "
                "verified so far, "
                f"{len(deliveries) - verified} refused; the receiver on :{opts.receiver_port} "
                + ("stops with the platform" if opts.watch_pid_file else "runs until stopped"),
            )
        )
        commands.append(("the partner's webhook log", f"tail -f {_shown(state.receiver.log)}"))
        if not opts.watch_pid_file:
            commands.append(
                ("stop the receiver", f"kill $(head -1 {_shown(state.receiver.pid_file)})")
            )
    reached = ", ".join(sorted(services)) or "services (spans not written yet)"
    facts.append(("A trace", f"{state.cohort.late.full_name}'s registration, across {reached}"))
    cli = _shown(Path(sys.executable).with_name("trellis"))
    where = (
        ""
        if opts.traces is None or _same(opts.traces, DEFAULT_TRACES)
        else f" --dir {_shown(opts.traces)}"
    )
    commands.append(("the trace as a waterfall", f"{cli} trace {state.trace_id}{where}"))
    commands.append(
        ("the same trace in Jaeger, with Docker (docker compose up)", f"{JAEGER}{state.trace_id}")
    )
    flagged = (
        f"flagged by the health watch at {health['at_risk_since'][11:19]} UTC: both people and the "
        "partner's webhook hear of it"
        if health["at_risk_since"]
        else f"not flagged yet: {opts.sweep_note}; then both people and the webhook hear of it"
    )
    facts.append(
        (
            "At risk",
            f"{mentee.full_name} ↔ {mentor.full_name}: health {health['score']} < threshold "
            f"{health['threshold']}, {flagged}",
        )
    )
    commands.append(
        ("why it is at risk", _curl(api, f"/sessions/mentorships/{drifting}/health", admin_file))
    )

    elapsed = round(time.monotonic() - state.started)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, text in facts:
        grid.add_row(label, text)
    title = f"{state.org_name} is seeded in {elapsed // 60} min {elapsed % 60} s"
    show.console.print()
    show.console.print(Panel(grid, title=title, title_align="left"))
    # Outside the panel and never wrapped by rich, so that each line can be copied as it is.
    show.console.print("Open them:", style="bold")
    for label, command in commands:
        show.console.print(
            f"  # {label}\n  {command}", soft_wrap=True, markup=False, highlight=False
        )
    state.counts |= {"deliveries_verified": verified, "emails": len(mail)}
    summary = {
        "organization": str(state.org),
        "name": state.org_name,
        "program": program,
        "admin_token_file": str(admin_file),
        "inbox_person": state.inbox_of,
        "drifting_mentorship": drifting,
        "trace_id": state.trace_id,
        "webhook_log": str(state.receiver.log) if state.receiver else None,
        "seconds": elapsed,
        "counts": state.counts,
        "open": dict(commands),
    }
    (opts.out / f"{state.slug}.json").write_text(json.dumps(summary, indent=2) + "\n")


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()
