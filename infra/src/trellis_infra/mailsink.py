"""A local SMTP sink for `make up`: accepts every message on 127.0.0.1:1025 and keeps it as a
.eml file (plus its HTML part as .html) under .trellis/up/mail/, with an index.html listing the
newest first, so whoever runs Trellis locally can see what it sent. Nothing is relayed onwards.

Run as a process: `python -m trellis_infra.mailsink --dir DIR [--host H] [--port P]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from trellis_infra import proc

INDEX_LIMIT = 200
INDEX_DELAY_S = 1.0


class Mailbox:
    """An aiosmtpd handler that files every message in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._index_due = False
        self._index_cost = 0.0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.save(envelope.original_content or envelope.content, index=False)
        # The index reads the headers of the latest messages and lists the whole folder: not once
        # per message (a `make demo` sends thousands in minutes), but at most once a second, and
        # less often as the folder grows, so that it never takes more than a fifth of the time.
        if not self._index_due:
            self._index_due = True
            delay = max(INDEX_DELAY_S, 4 * self._index_cost)
            asyncio.get_running_loop().call_later(delay, self._index_now)
        return "250 Message accepted for delivery"

    def _index_now(self) -> None:
        self._index_due = False
        started = time.monotonic()
        self.write_index()
        self._index_cost = time.monotonic() - started

    def save(self, raw: bytes, *, index: bool = True) -> Path:
        # Names sort by arrival; the suffix keeps two messages of the same instant apart.
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
        path = self.folder / f"{name}.eml"
        _write(path, raw)
        message = BytesParser(policy=policy.default).parsebytes(raw)
        part = message.get_body(preferencelist=("html",))
        if part is not None:
            _write(path.with_suffix(".html"), part.get_content().encode())
        if index:
            self.write_index()
        return path

    def messages(self) -> list[Path]:
        """The filed messages, newest first."""
        return sorted(self.folder.glob("*.eml"), key=lambda path: path.name, reverse=True)

    def write_index(self) -> None:
        rows = []
        parser = BytesParser(policy=policy.default)
        messages = self.messages()
        for path in messages[:INDEX_LIMIT]:
            with path.open("rb") as fh:
                headers = parser.parse(fh, headersonly=True)
            view = path.with_suffix(".html")
            subject = html.escape(str(headers.get("Subject", "(no subject)")))
            if view.exists():
                subject = f'<a href="{view.name}">{subject}</a>'
            rows.append(
                "<tr>"
                f"<td>{html.escape(str(headers.get('Date', '')))}</td>"
                f"<td>{html.escape(str(headers.get('To', '')))}</td>"
                f"<td>{subject}</td>"
                f'<td><a href="{path.name}">.eml</a></td>'
                "</tr>"
            )
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta http-equiv="refresh" content="5"><title>Trellis mail</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:2rem}td,th{padding:.25rem .75rem;"
            "text-align:left;border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>Mail sent by Trellis</h1><p>{len(messages)} message(s), newest first "
            f"(the latest {INDEX_LIMIT} listed). Files in {html.escape(str(self.folder))}.</p>"
            "<table><tr><th>Date</th><th>To</th><th>Subject</th><th>Raw</th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )
        _write(self.folder / "index.html", page.encode())


def _write(path: Path, data: bytes) -> None:
    # Whole files only: a browser refreshing the index never reads half of one.
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


async def serve(handler: object, host: str, port: int) -> asyncio.Server:
    """An SMTP server for `handler` on this event loop (the caller closes it)."""
    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="trellis-mailsink", enable_SMTPUTF8=True), host, port
    )


@dataclass
class MailSink:
    """The sink as a background process of a stack."""

    folder: Path
    pid_file: Path
    log_file: Path
    host: str = "127.0.0.1"
    port: int = 1025

    @property
    def index(self) -> Path:
        return self.folder / "index.html"

    def running(self) -> bool:
        return proc.pid_alive(self.pid_file) is not None

    def start(self) -> None:
        if self.running():
            return
        if not proc.port_free(self.port):
            raise RuntimeError(f"mail sink port {self.port} is already in use")
        Mailbox(self.folder).write_index()
        proc.spawn(
            [
                *(sys.executable, "-m", "trellis_infra.mailsink"),
                *("--dir", str(self.folder), "--host", self.host, "--port", str(self.port)),
            ],
            log_file=self.log_file,
            pid_file=self.pid_file,
            cwd=self.folder,
        )
        proc.wait_port(
            self.host, self.port, timeout=15.0, proc_pid_file=self.pid_file, log_file=self.log_file
        )

    def stop(self) -> None:
        proc.stop(self.pid_file, timeout=5.0)


async def _main(folder: Path, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    mailbox = Mailbox(folder)
    server = await serve(mailbox, host, port)
    print(f"mail sink on {host}:{port}, filing into {folder}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
        mailbox.write_index()  # the last messages' pending index update


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--dir", type=Path, required=True)
    args.add_argument("--host", default="127.0.0.1")
    args.add_argument("--port", type=int, default=1025)
    parsed = args.parse_args()
    asyncio.run(_main(parsed.dir.resolve(), parsed.host, parsed.port))
