"""`trellis`: operator commands (development tokens, dead-letter queues)."""

from __future__ import annotations

import asyncio
import json
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from trellis_shared.auth import ROLES, mint_token
from trellis_shared.events import dlq_topic, header_value
from trellis_shared.kafka import create_producer, read_topic
from trellis_shared.settings import DEV_JWT_SECRET

app = typer.Typer(help="Trellis operator commands.", no_args_is_help=True)
dlq = typer.Typer(help="Inspect and replay dead-lettered events.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
schemas_app = typer.Typer(help="Event schemas: snapshots and compatibility.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")

Bootstrap = Annotated[
    str, typer.Option(envvar="TRELLIS_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers")
]


@app.command()
def token(
    org: Annotated[str, typer.Option(help="Organization (tenant) id")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several")],
    sub: Annotated[str, typer.Option(help="Subject: a person id or a client id")] = "",
    scope: Annotated[list[str] | None, typer.Option(help="Partner scope; repeat")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 3600,
    secret: Annotated[str, typer.Option(envvar="TRELLIS_JWT_SECRET")] = DEV_JWT_SECRET,
) -> None:
    """Mint an HS256 bearer token (development and tests)."""
    unknown = set(role) - set(ROLES)
    if unknown:
        raise typer.BadParameter(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    uuid.UUID(org)
    typer.echo(
        mint_token(
            secret=secret, sub=sub or str(uuid.uuid4()), org=org, roles=role, scope=scope, ttl_s=ttl
        )
    )


async def _read_dlq(bootstrap: str, topic: str, limit: int) -> list:
    return await read_topic(bootstrap, dlq_topic(topic), limit=limit)


@dlq.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="The original topic, e.g. trellis.profiles.person")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    limit: Annotated[int, typer.Option()] = 100,
) -> None:
    """Print the dead-lettered messages of a topic as JSON lines."""
    for record in asyncio.run(_read_dlq(bootstrap, topic, limit)):
        headers = record.headers or []
        typer.echo(
            json.dumps(
                {
                    "offset": record.offset,
                    "partition": record.partition,
                    "event_id": header_value(headers, "ce_id"),
                    "type": header_value(headers, "ce_type"),
                    "consumer": header_value(headers, "dlq_consumer"),
                    "reason": header_value(headers, "dlq_reason"),
                    "error": header_value(headers, "dlq_error"),
                    "original": f"{header_value(headers, 'dlq_original_topic')}"
                    f"[{header_value(headers, 'dlq_original_partition')}]"
                    f"@{header_value(headers, 'dlq_original_offset')}",
                }
            )
        )


async def _replay(bootstrap: str, topic: str, consumer_name: str | None, limit: int) -> int:
    records = await _read_dlq(bootstrap, topic, limit)
    producer = create_producer(bootstrap, client_id="trellis-dlq-replay")
    await producer.start()
    replayed = 0
    try:
        for record in records:
            headers = record.headers or []
            if consumer_name and header_value(headers, "dlq_consumer") != consumer_name:
                continue
            clean = [(k, v) for k, v in headers if not k.startswith("dlq_")]
            # Back to the original topic: consumers that already applied it skip it (inbox).
            await producer.send_and_wait(topic, value=record.value, key=record.key, headers=clean)
            replayed += 1
    finally:
        await producer.stop()
    return replayed


@dlq.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="The original topic")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    consumer: Annotated[
        str | None, typer.Option(help="Only what this consumer dead-lettered")
    ] = None,
    limit: Annotated[int, typer.Option()] = 1000,
) -> None:
    """Publish dead-lettered messages to their original topic again, once fixed."""
    count = asyncio.run(_replay(bootstrap, topic, consumer, limit))
    typer.echo(f"replayed {count} message(s) to {topic}")


# Commands that other packages bring (`trellis import` from profiles), without shared naming them.
for _entry_point in entry_points(group="trellis.cli"):
    app.add_typer(_entry_point.load(), name=_entry_point.name)


if __name__ == "__main__":
    app()


@schemas_app.command("check")
def schemas_check() -> None:
    """Compare every event contract with its snapshot; exit 1 on a breaking change."""
    from trellis_shared import schemas

    problems = schemas.check()
    for event_type, found in sorted(problems.items()):
        for problem in found:
            typer.echo(f"{event_type}: {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo("every event schema is snapshotted and compatible")


@schemas_app.command("snapshot")
def schemas_snapshot() -> None:
    """Record new event types and compatible changes (a breaking change needs a new version)."""
    from trellis_shared import schemas

    for event_type in schemas.write_snapshots():
        typer.echo(f"wrote {schemas.snapshot_path(event_type)}")


@app.command()
def trace(
    trace_id: Annotated[
        str | None, typer.Argument(help="A trace id; omit to list recent traces")
    ] = None,
    directory: Annotated[
        Path, typer.Option("--dir", envvar="TRELLIS_TRACE_DIR", help="Where services write spans")
    ] = Path(".trellis/up/traces"),
    limit: Annotated[int, typer.Option(help="How many recent traces to list")] = 20,
) -> None:
    """Draw a trace as a waterfall across services, from the spans the services wrote locally."""
    from trellis_shared import tracefile

    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise typer.BadParameter(f"no span files in {directory} (is the stack up?)")
    if trace_id is None:
        for t in tracefile.summaries(tracefile.read_spans(files), limit):
            typer.echo(
                f"{t['trace_id']}  {t['ms']:>9.1f} ms  {t['spans']:>4} spans  "
                f"{','.join(t['services']):<40} {t['root']}"
            )
        return
    spans = tracefile.read_spans(files, trace_id)
    if not spans:
        raise typer.BadParameter(f"no spans of trace {trace_id} in {directory}")
    services = sorted({s.service.removeprefix("trellis-") for s in spans})
    typer.echo(f"trace {trace_id}: {len(spans)} spans across {', '.join(services)}")
    for line in tracefile.waterfall(spans):
        typer.echo(line)
