"""A partner's webhook endpoint for the demo: verifies each delivery's Standard Webhooks signature
and writes one line per delivery to a log a person can open.

It runs as its own process so that it keeps receiving after the demo returns (retries, reminders,
the at-risk flag of the next health sweep), and it exits by itself once the stack's gateway is
gone (`make down`), so nothing is left behind. Secrets are files, one per subscription
(`secrets/<name>`, the name being the last part of the URL path), read when a delivery arrives:
a later demo run adds its own without a restart.

Run: `python -m trellis_infra.demo.receiver --dir DIR --port P [--watch-pid-file FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trellis_infra import proc

TOLERANCE_S = 5 * 60  # Standard Webhooks' replay window
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict:
    """The CloudEvent in `body` if one of its signatures is made with `secret` and it is recent
    (the recipe of docs/partners.md); ValueError otherwise."""
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > TOLERANCE_S:
        raise ValueError("timestamp outside the tolerance")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise ValueError("no valid signature")


@dataclass(frozen=True)
class Delivery:
    """One line of the log."""

    at: str
    verdict: str  # "verified" or "REFUSED"
    event_type: str
    tenant: str
    subject: str
    webhook_id: str
    reason: str = ""

    def line(self) -> str:
        why = f"  reason={self.reason.replace(' ', '_')}" if self.reason else ""
        return (
            f"{self.at}  {self.verdict:<8}  {self.event_type:<46}  tenant={self.tenant}  "
            f"subject={self.subject}  webhook-id={self.webhook_id}{why}\n"
        )

    @classmethod
    def parse(cls, line: str) -> Delivery:
        at, verdict, event_type, *rest = line.split()
        kv = dict(part.split("=", 1) for part in rest)
        return cls(
            at,
            verdict,
            event_type,
            kv["tenant"],
            kv["subject"],
            kv["webhook-id"],
            kv.get("reason", "").replace("_", " "),
        )


def read_log(path: Path, tenant: str | None = None) -> list[Delivery]:
    """The deliveries logged so far (of one organization when `tenant` is given)."""
    if not path.exists():
        return []
    found = [Delivery.parse(line) for line in path.read_text().splitlines() if line.strip()]
    return [d for d in found if tenant is None or d.tenant == tenant]


class Endpoint:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "webhooks.log"
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope, receive, send) -> None:  # a bare ASGI app: no framework
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = self.handle(scope, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    def handle(self, scope: dict, body: bytes) -> tuple[int, dict]:
        if scope["method"] == "GET":
            return 200, {"log": str(self.log), "deliveries": dict(self.counts)}
        name = scope["path"].rstrip("/").rsplit("/", 1)[-1]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        secret_file = self.folder / "secrets" / name
        reason, event = "", {}
        try:
            if not _NAME.match(name) or not secret_file.exists():
                raise ValueError(f"no subscription named {name!r}")
            event = verify(secret_file.read_text().strip(), headers, body)
            verdict, status = "verified", 204
        except (ValueError, KeyError) as exc:
            verdict, status, reason = "REFUSED", 400, str(exc) or type(exc).__name__
            # Shown for whoever reads the log; a refused body is not to be trusted otherwise.
            with contextlib.suppress(ValueError):
                event = json.loads(body) if body.startswith(b"{") else {}
        self.counts[verdict] += 1
        delivery = Delivery(
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            verdict=verdict,
            event_type=str(event.get("type", "?")),
            tenant=str(event.get("tenant", "?")),
            subject=str(event.get("subject", "?")),
            webhook_id=headers.get("webhook-id", "?"),
            reason=reason,
        )
        with self.log.open("a") as log:
            log.write(delivery.line())
        return status, {"verdict": verdict}


@dataclass
class ReceiverProcess:
    """The receiver as a background process of the demo."""

    folder: Path
    port: int
    watch_pid_file: Path | None = None

    @property
    def pid_file(self) -> Path:
        return self.folder / "receiver.pid"

    @property
    def log(self) -> Path:
        return self.folder / "webhooks.log"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def add_secret(self, name: str, secret: str) -> None:
        path = self.folder / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secret)
        path.chmod(0o600)

    def running(self) -> bool:
        return proc.pid_alive(self.pid_file) is not None

    def ensure_running(self) -> None:
        if self.running():
            return
        if not proc.port_free(self.port):
            raise RuntimeError(f"port {self.port} is taken: pass another --receiver-port")
        watch = ["--watch-pid-file", str(self.watch_pid_file)] if self.watch_pid_file else []
        proc.spawn(
            [
                *(sys.executable, "-m", "trellis_infra.demo.receiver"),
                *("--dir", str(self.folder), "--port", str(self.port), *watch),
            ],
            log_file=self.folder / "receiver.out",
            pid_file=self.pid_file,
        )
        proc.wait_port(
            "127.0.0.1", self.port, timeout=20, proc_pid_file=self.pid_file, log_file=None
        )

    def stop(self) -> None:
        proc.stop(self.pid_file, timeout=5.0)


async def _serve(folder: Path, port: int, watch: Path | None) -> None:
    import uvicorn

    config = uvicorn.Config(
        Endpoint(folder), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    print(f"webhook receiver on 127.0.0.1:{port}, logging to {folder / 'webhooks.log'}", flush=True)
    while not task.done():
        await asyncio.sleep(2)
        if watch is not None and proc.pid_alive(watch) is None:
            print(f"{watch} names no running process: the stack is down, stopping", flush=True)
            server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--dir", type=Path, required=True)
    args.add_argument("--port", type=int, default=8090)
    args.add_argument("--watch-pid-file", type=Path, default=None)
    parsed = args.parse_args()
    parsed.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(parsed.dir.resolve(), parsed.port, parsed.watch_pid_file))
