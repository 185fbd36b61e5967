"""`trellis import people FILE`: upload a file of people, follow the import, list failed rows.

Reached through the `trellis.cli` entry point group, so it imports nothing of the service.
"""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Bulk imports into Trellis.", no_args_is_help=True)


class Format(enum.StrEnum):
    csv = "csv"
    ndjson = "ndjson"


MEDIA_TYPES = {Format.csv: "text/csv", Format.ndjson: "application/x-ndjson"}
_BY_EXTENSION = {".csv": Format.csv, ".ndjson": Format.ndjson, ".jsonl": Format.ndjson}
# How long polling rides out an unreachable or restarting service before giving up.
_POLL_PATIENCE_S = 120.0


def _format_of(path: Path, given: Format | None) -> Format:
    if given is not None:
        return given
    try:
        return _BY_EXTENSION[path.suffix.lower()]
    except KeyError:
        raise typer.BadParameter(
            f"cannot tell the format of {path.name}; pass --format csv or --format ndjson",
            param_hint="--format",
        ) from None


def _refused(console: Console, response: httpx.Response) -> typer.Exit:
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text.strip()}
    console.print(
        f"[red]The import was refused ({response.status_code}):[/] {problem.get('detail')}"
    )
    for error in problem.get("errors") or []:
        console.print(f"  {error.get('field')}: {error.get('message')}")
    return typer.Exit(2)


def _counts(job: dict[str, Any]) -> str:
    text = (
        f"{job['created']} created, {job['updated']} updated, "
        f"{job['unchanged']} unchanged, {job['failed_rows']} failed"
    )
    if job.get("enrollments_created"):
        text += f", {job['enrollments_created']} enrollments"
    return text


def _poll(client: httpx.Client, path: str) -> dict[str, Any]:
    """The job now, retrying while the service is briefly unreachable."""
    deadline = time.monotonic() + _POLL_PATIENCE_S
    delay = 0.5
    while True:
        try:
            response = client.get(path)
            if response.status_code == 200:
                return response.json()
            if response.status_code < 500 and response.status_code != 429:
                response.raise_for_status()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise typer.Exit(2)
        time.sleep(delay)
        delay = min(delay * 2, 5)


def _print_errors(console: Console, client: httpx.Client, job: dict[str, Any], limit: int) -> None:
    response = client.get(job["errors_url"], params={"limit": limit})
    if response.status_code != 200 or limit == 0:
        return
    table = Table(title=f"First failed rows (of {job['failed_rows']})", title_justify="left")
    for column in ("row", "line", "external id", "field", "problem"):
        table.add_column(column, overflow="fold")
    for entry in response.json()["data"]:
        for error in entry["errors"]:
            table.add_row(
                str(entry["row"]),
                str(entry["line"]),
                entry["external_id"] or "",
                error["field"],
                error["message"],
            )
    console.print(table)
    console.print(f"Every failed row: GET {client.base_url.join(job['errors_url'])}")


@app.command(
    "people",
    help="Import people (and enrollments) from FILE, upserting by external_id. "
    "Exits 0 when every row was imported, 1 when rows failed (the first are listed), "
    "2 when the file was refused or the service could not be reached.",
)
def people(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or JSON lines"),
    ],
    token: Annotated[
        str, typer.Option(envvar="TRELLIS_TOKEN", help="Bearer token of an org admin")
    ],
    url: Annotated[
        str, typer.Option(envvar="TRELLIS_URL", help="The gateway, or the profiles service")
    ] = "http://localhost:8080",
    file_format: Annotated[
        Format | None,
        typer.Option("--format", help="Default: from the extension (.csv, .ndjson, .jsonl)"),
    ] = None,
    show_errors: Annotated[int, typer.Option(help="How many failed rows to print")] = 20,
    poll_interval: Annotated[float, typer.Option(help="Seconds between progress checks")] = 0.5,
) -> None:
    media_type = MEDIA_TYPES[_format_of(file, file_format)]
    console = Console()
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(30.0, write=300.0, read=300.0)
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        try:
            with file.open("rb") as body:
                # A file object is streamed, not read into memory first.
                response = client.post(
                    "/profiles/imports", content=body, headers={"Content-Type": media_type}
                )
        except httpx.TransportError as exc:
            console.print(f"[red]Cannot reach {url}:[/] {exc}")
            raise typer.Exit(2) from exc
        if response.status_code != 202:
            raise _refused(console, response)
        job = response.json()
        location = response.headers.get("location", f"/profiles/imports/{job['id']}")
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task(f"Importing {file.name}", total=job["total_rows"], counts="")
            while True:
                progress.update(bar, completed=job["processed_rows"], counts=_counts(job))
                if job["status"] not in ("queued", "running"):
                    break
                time.sleep(poll_interval)
                job = _poll(client, location)
        console.print(
            f"Import {job['status']}: {job['processed_rows']}/{job['total_rows']} rows, "
            f"{_counts(job)}"
        )
        if job["status"] == "failed":
            console.print(f"[red]{job.get('error')}[/]")
        if job["failed_rows"]:
            _print_errors(console, client, job, show_errors)
    if job["failed_rows"] or job["status"] != "completed":
        raise typer.Exit(1)
