"""What every benchmark shares: load with wrk, a results table with ratios, the machine's facts."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from trellis_infra import proc


@dataclass
class Figure:
    name: str
    ours: float
    baseline: float
    unit: str
    baseline_name: str
    goal: str = "report"

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")

    def met(self) -> str:
        match = re.match(r"ratio\s*>=\s*([0-9.]+)", self.goal)
        if not match:
            # An absolute ceiling on our figure, in its own unit ("p99 <= 100 ms").
            ceiling = re.search(r"<=\s*([0-9.]+)", self.goal)
            if ceiling is None:
                return "-"
            return "yes" if self.ours <= float(ceiling.group(1)) else "NO"
        # A relative tolerance of 1e-6 so that "equal" survives floating-point rounding.
        return "yes" if self.ratio >= float(match.group(1)) * (1 - 1e-6) else "NO"


def wrk(
    url: str,
    *,
    seconds: int = 8,
    connections: int = 32,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    script: str | None = None,
) -> dict[str, float]:
    """One wrk run; returns requests/s, p50/p99 latency (ms), and non-2xx answers."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    with tempfile.TemporaryDirectory() as scratch:
        if script:
            lua = Path(scratch) / "request.lua"
            lua.write_text(script)
            cmd += ["-s", str(lua)]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _latency(out: str, pct: str) -> float:
    match = re.search(rf"{re.escape(pct)}\s+([0-9.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def interleaved(ours, baseline, rounds: int = 3) -> tuple[dict, dict]:
    """The median run (by req/s) of alternating runs, so drift on a shared machine hits both."""
    base, mine = interleaved_runs(baseline, ours, rounds=rounds)
    return mine, base


def interleaved_runs(*loads, rounds: int = 3) -> list[dict]:
    """`interleaved` for any number of loads: each one's median run, in the order given."""
    runs: list[list[dict]] = [[] for _ in loads]
    for _ in range(rounds):
        for load, done in zip(loads, runs, strict=True):
            done.append(load())
    return [_median_run(done) for done in runs]


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def machine() -> dict[str, str]:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cores": str(os.cpu_count()),
        "memory_gib": f"{mem_kb / 1024 / 1024:.1f}",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def report(figures: list[Figure], extra: dict[str, str], out_dir: Path) -> str:
    rows = [("figure", "ours", "baseline", "ratio", "goal", "met")]
    for f in figures:
        rows.append(
            (
                f.name,
                f"{f.ours:,.1f} {f.unit}",
                f"{f.baseline:,.1f} {f.unit} ({f.baseline_name})",
                f"{f.ratio:.3f}",
                f.goal,
                f.met(),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    facts = {**machine(), **extra}
    text = "\n".join(lines) + "\n\n" + ", ".join(f"{k}: {v}" for k, v in facts.items())
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "machine": facts,
                "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
            },
            indent=2,
        )
    )
    return text


def admin_dsn(stack) -> str:
    """The bench database as its superuser (every service's schema)."""
    return f"{stack.admin_dsn.rsplit('/', 1)[0]}/{stack.config.database}"


async def sql(stack, query: str, *args, dsn: str | None = None) -> list:
    conn = await asyncpg.connect(dsn or admin_dsn(stack))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def notifications_replicas(stack, count: int) -> Iterator[None]:
    """Notifications as it runs in production: `count` replicas as processes, each with its
    consumer, reminders worker and email worker, sending to a local SMTP sink that accepts and
    discards every message. Stopped on exit."""
    run_dir, logs = stack.config.state_dir / "run", stack.config.state_dir / "logs"
    sink_port, sink_pid = free_port(), run_dir / "bench-smtp-sink.pid"
    sink = ["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{sink_port}"]
    proc.spawn([sys.executable, *sink], log_file=logs / "bench-smtp-sink.log", pid_file=sink_pid)
    replicas = [run_dir / f"bench-notifications-{i}.pid" for i in range(count)]
    try:
        proc.wait_port("127.0.0.1", sink_port, timeout=30, proc_pid_file=sink_pid)
        for i, pid_file in enumerate(replicas):
            port = free_port()
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **stack.service_env("notifications")}
            env |= {"NOTIFICATIONS_PORT": str(port), "NOTIFICATIONS_SMTP_PORT": str(sink_port)}
            proc.spawn(
                [sys.executable, "-m", "trellis_notifications", "serve"],
                log_file=logs / f"bench-notifications-{i}.log",
                pid_file=pid_file,
                env=env,
                cwd=stack.config.root,
            )
            _wait_ready(port, pid_file)
        yield
    finally:
        for pid_file in replicas:
            proc.stop(pid_file)
        proc.stop(sink_pid)


def _wait_ready(port: int, pid_file: Path, timeout: float = 90.0) -> None:
    """Ready (database and Kafka reachable) means its background workers are running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.pid_alive(pid_file):
            raise RuntimeError(f"a notifications replica exited (see its log next to {pid_file})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"a notifications replica on port {port} was not ready in {timeout} s")
