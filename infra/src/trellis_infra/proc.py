"""Small process helpers: run commands, spawn detached daemons, stop them by pid file.

Pid files written by :func:`spawn` hold the pid on the first line and the process start time
(field 22 of ``/proc/<pid>/stat``) on the second, so that a stale pid file left by a machine
that was restarted never makes us signal an unrelated process that reused the pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def tail(path: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ('' if there is none)."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 256 * 1024))
        data = fh.read()
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _user_kwargs(
    user: str | None, env: Mapping[str, str] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Popen arguments that drop to ``user`` (uid, gid, that user's groups, HOME)."""
    base = dict(os.environ if env is None else env)
    if user is None:
        return {}, base
    pw = pwd.getpwnam(user)
    if pw.pw_uid == os.geteuid():
        return {}, base
    if os.geteuid() != 0:
        raise PermissionError(f"running as {user!r} needs root (we are uid {os.geteuid()})")
    base.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
    return {
        "user": pw.pw_uid,
        "group": pw.pw_gid,
        "extra_groups": os.getgrouplist(user, pw.pw_gid),
    }, base


def run(
    cmd: list[str],
    *,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = 120.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a short command, capturing its output; raise RuntimeError with it on failure."""
    kwargs, full_env = _user_kwargs(user, env)
    res = subprocess.run(
        cmd,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
    if check and res.returncode != 0:
        raise RuntimeError(
            f"command failed (exit {res.returncode}): {' '.join(cmd)}\n{res.stdout}{res.stderr}"
        )
    return res


def spawn(
    cmd: list[str],
    *,
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start ``cmd`` detached (own session, stdin from /dev/null, stdout+stderr appended to
    ``log_file``), record it in ``pid_file`` and return its pid.

    ``user`` switches uid/gid in the child itself rather than through ``runuser``: runuser
    stays as the parent, so the pid file would name runuser, a SIGKILL would orphan the real
    daemon, and on SIGTERM runuser kills its child with SIGKILL after two seconds, which
    would cut short a database's clean shutdown.
    """
    kwargs, full_env = _user_kwargs(user, env)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            **kwargs,
        )
    start = _start_time(proc.pid)
    pid_file.write_text(f"{proc.pid}\n{start or ''}\n")
    return proc.pid


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from field 3 (state) on, or None if there is no such pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return fields[19] if fields else None


def _read_pid_file(pid_file: Path) -> tuple[int, str | None] | None:
    try:
        parts = pid_file.read_text().split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _exited(pid: int) -> bool:
    """For a pid whose leader thread is a zombie: has the whole process finished exiting?

    A multi-threaded process (a JVM) shows its leader as a zombie while its other threads
    still tear down, and its sockets stay open until the last one is gone.
    """
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == pid
    except ChildProcessError:  # not our child: look at its threads
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            return True
        for tid in tasks:
            with contextlib.suppress(FileNotFoundError, IndexError):
                state = (
                    Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                )
                if state not in ("Z", "X"):
                    return False
        return True


def _alive(pid: int, start: str | None) -> bool:
    fields = _proc_stat(pid)
    if fields is None:
        return False
    if start is not None and fields[19] != start:  # the pid now names another process
        return False
    return not (fields[0] in ("Z", "X") and _exited(pid))


def pid_alive(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that very process is still running."""
    rec = _read_pid_file(pid_file)
    if rec is None:
        return None
    pid, start = rec
    return pid if _alive(pid, start) else None


def _wait_gone(procs: list[tuple[int, str | None]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid, start) for pid, start in procs):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _descendants(pid: int) -> list[tuple[int, str | None]]:
    """All descendants of ``pid`` (with start times), from /proc."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _proc_stat(int(entry))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        starts[int(entry)] = fields[19]
    found: list[tuple[int, str | None]] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append((child, starts.get(child)))
        todo.extend(children.get(child, []))
    return found


def _kill_tree(pid: int, start: str | None) -> None:
    """SIGKILL a process and every descendant, and wait until all of them are gone.

    The process is frozen first so that it cannot fork while we collect its children;
    descendants are found by parentage because some daemons (postgres backends) move into
    sessions of their own, out of reach of a process-group kill.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    procs = [(pid, start), *_descendants(pid)]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    for p, _ in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    if not _wait_gone(procs, 15.0):
        raise RuntimeError(f"processes {[p for p, _ in procs]} survived SIGKILL")


def stop(pid_file: Path, *, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM by default), wait up to ``timeout`` s for the process to exit,
    then SIGKILL it and its descendants. Removes the pid file; a no-op if not running."""
    rec = _read_pid_file(pid_file)
    if rec is not None and _alive(*rec):
        pid, start = rec
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if not _wait_gone([rec], timeout):
            _kill_tree(pid, start)
    pid_file.unlink(missing_ok=True)


def kill9(pid_file: Path) -> None:
    """SIGKILL the process and all its descendants (a crash), wait until they are gone,
    remove the pid file."""
    rec = _read_pid_file(pid_file)
    if rec is not None and _alive(*rec):
        _kill_tree(*rec)
    pid_file.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_file`` (serialises start/stop across processes)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(
    host: str,
    port: int,
    *,
    timeout: float,
    proc_pid_file: Path | None = None,
    log_file: Path | None = None,
) -> None:
    """Wait until ``host:port`` accepts TCP connections.

    Raises RuntimeError (with the last 40 lines of ``log_file``) if the process named by
    ``proc_pid_file`` exits first, or on timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if port_open(host, port):
            return
        if proc_pid_file is not None and pid_alive(proc_pid_file) is None:
            raise RuntimeError(
                f"process of {proc_pid_file} exited before {host}:{port} opened; "
                f"last lines of {log_file}:\n{tail(log_file)}"
            )
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"{host}:{port} not open after {timeout:.0f}s; "
                f"last lines of {log_file}:\n{tail(log_file)}"
            )
        time.sleep(0.1)


def port_free(port: int) -> bool:
    """True if no socket listens on TCP ``port`` (any local address, IPv4 or IPv6).

    Reads the kernel's socket tables rather than test-binding: right after a server is
    killed its old connections linger (FIN_WAIT/TIME_WAIT), which makes a test bind fail
    although the server's own restart (with SO_REUSEADDR) would succeed.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return not port_open("127.0.0.1", port)
    for table in tables:
        with contextlib.suppress(FileNotFoundError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    return False
    return True


def run_coro(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, even when the calling thread
    already runs an event loop (sync start() called from an async pytest fixture)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, name="trellis-infra-run-coro")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
