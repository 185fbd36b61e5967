"""`trellis-stack up|down|status|logs`: the platform on this machine, without Docker."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from trellis_infra.stack import SERVICES, Stack, StackConfig

app = typer.Typer(help="Run Trellis locally: Postgres, Kafka, the services and the gateway.")


def _stack(name: str) -> Stack:
    return Stack(StackConfig.for_tests() if name == "test" else StackConfig.for_up())


@app.command()
def up(stack: Annotated[str, typer.Option(help="up | test")] = "up") -> None:
    """Start everything in the background; return once every part is healthy."""
    s = _stack(stack)
    s.up()
    typer.echo("Trellis is up:\n" + s.summary())


@app.command()
def down(stack: Annotated[str, typer.Option(help="up | test")] = "up") -> None:
    """Stop everything (state is kept for the next `up`)."""
    _stack(stack).down()
    typer.echo("Trellis is down.")


@app.command()
def status(stack: Annotated[str, typer.Option(help="up | test")] = "up") -> None:
    """Say what is running."""
    s = _stack(stack)
    parts = {
        "postgres": s.postgres.running(),
        "kafka": s.kafka.running(),
        **{name: s.service_running(name) for name in SERVICES},
        "gateway": s.gateway.running(),
        "mail sink": s.mailsink.running(),
    }
    for name, running in parts.items():
        typer.echo(f"{name:<14} {'running' if running else 'stopped'}")


@app.command()
def logs(stack: Annotated[str, typer.Option(help="up | test")] = "up") -> None:
    """Follow every log of the stack."""
    s = _stack(stack)
    files = sorted(str(p) for p in s.config.state_dir.rglob("*.log"))
    if not files:
        raise typer.Exit("no logs yet")
    os.execvp("tail", ["tail", "-n", "20", "-F", *files])
