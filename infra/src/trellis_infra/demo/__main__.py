"""`python -m trellis_infra.demo` (`make demo`): seed the alumni mentoring demo.

Without --url it uses the local platform of `make up`, and starts it first if it is not running.
The platform it starts sweeps mentorships' health every 30 s instead of 600 s (unless
SESSIONS_HEALTH_SWEEP_SECONDS says otherwise), so the demo can show the at-risk flag being raised.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from trellis_infra.demo.client import DemoError
from trellis_infra.demo.run import run
from trellis_infra.demo.seed import Options
from trellis_infra.demo.show import Show
from trellis_infra.stack import SERVICES, Stack, StackConfig

DEMO_SWEEP_SECONDS = "30"
SWEEP_ENV = "SESSIONS_HEALTH_SWEEP_SECONDS"

app = typer.Typer(add_completion=False)


def _local_platform(show: Show) -> tuple[Stack, str]:
    """The `make up` stack, started when any part of it is down; what is known of its sweep."""
    stack = Stack(StackConfig.for_up())
    parts = [stack.postgres.running(), stack.kafka.running(), stack.gateway.running()]
    parts += [stack.service_running(s) for s in SERVICES]
    if all(parts):
        sweep = os.environ.get(SWEEP_ENV)
        note = (
            f"the health watch sweeps every {sweep} s"
            if sweep
            else f"the health watch sweeps every {SWEEP_ENV} seconds, 600 unless `make up` was "
            f"given another, so within 10 minutes (`make down && make demo` sweeps every "
            f"{DEMO_SWEEP_SECONDS} s)"
        )
        return stack, note
    sweep = os.environ.get(SWEEP_ENV, DEMO_SWEEP_SECONDS)
    stack.config.extra_service_env[SWEEP_ENV] = sweep
    show.step(f"Starting the platform (make up), with the health watch every {sweep} s")
    stack.up()
    show.console.print(stack.summary())
    return stack, f"the health watch sweeps every {sweep} s"


@app.command()
def main(
    url: Annotated[
        str | None,
        typer.Option(help="A Trellis gateway; default: the local `make up` platform"),
    ] = None,
    mentors: Annotated[int, typer.Option(min=1, help="Alumni (mentors)")] = 300,
    mentees: Annotated[int, typer.Option(min=1, help="Students (mentees)")] = 1200,
    seed: Annotated[int, typer.Option(help="The same seed gives the same people")] = 2027,
    out: Annotated[
        Path | None,
        typer.Option(help="Where tokens, the receiver's log and <slug>.json go"),
    ] = None,
    traces: Annotated[
        Path | None, typer.Option(help="The services' span files, for `trellis trace`")
    ] = None,
    mail: Annotated[Path | None, typer.Option(help="The mail sink's folder")] = None,
    receiver_port: Annotated[int, typer.Option(help="The webhook receiver's port")] = 8090,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight per service")] = 8,
    at_risk_wait: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for the at-risk flag (default: 4 sweeps, or 60)"),
    ] = None,
    settle: Annotated[
        float, typer.Option(help="Seconds to wait at the end for the partner's deliveries")
    ] = 120.0,
) -> None:
    """Seed Northfield University's alumni mentoring program through the public API."""
    show = Show()
    watch, wait = None, 60.0
    note = f"the health watch sweeps every {SWEEP_ENV} seconds (600 by default)"
    if url is None:
        stack, note = _local_platform(show)
        state = stack.config.state_dir
        url, watch = stack.gateway_url, stack.gateway.pid_file
        out, traces, mail = (
            out or state / "demo",
            traces or state / "traces",
            mail or state / "mail",
        )
        if SWEEP_ENV in stack.config.extra_service_env:
            wait = 4 * float(stack.config.extra_service_env[SWEEP_ENV])
    opts = Options(
        url=url,
        out=(out or Path(".trellis/demo")).resolve(),
        mentors=mentors,
        mentees=mentees,
        seed=seed,
        concurrency=concurrency,
        receiver_port=receiver_port,
        watch_pid_file=watch,
        traces=traces,
        mail=mail,
        at_risk_wait=wait if at_risk_wait is None else at_risk_wait,
        settle=settle,
        sweep_note=note,
    )
    try:
        asyncio.run(run(opts, show))
    except DemoError as exc:
        show.console.print(f"[red]The demo stopped:[/] {exc}")
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
