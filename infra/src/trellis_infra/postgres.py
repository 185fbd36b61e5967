"""A private PostgreSQL cluster (Debian's binaries, a data folder of our own).

Layout under ``state_dir``: ``data/`` (PGDATA), ``run/`` (unix socket), ``postgres.log``,
``postgres.pid``. Clients use TCP on 127.0.0.1 with scram-sha-256 passwords only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

import asyncpg

from trellis_infra import proc

OS_USER = "postgres"  # Debian's postgres refuses to run as root

# fsync stays on: the reliability tests kill -9 the postmaster and expect committed data back.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "300",
    "shared_buffers": "'256MB'",
    "password_encryption": "'scram-sha-256'",
    "fsync": "on",
    "synchronous_commit": "on",
    # Each transaction's commit time (pg_xact_commit_timestamp): the benchmarks measure outbox
    # commit -> consumer commit with it. A few bytes per transaction.
    "track_commit_timestamp": "on",
    "timezone": "'UTC'",
    "lc_messages": "'C'",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_timezone": "'UTC'",
}
_INCLUDE_LINE = "include_if_exists = 'trellis.conf'"


def pg_bindir() -> Path:
    """Folder of initdb/postgres/pg_ctl: ``pg_config --bindir``, else the newest Debian one."""
    if shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if (Path(out) / "initdb").exists():
                return Path(out)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found; run infra/bootstrap.sh")
    return Path(found[-1]).parent


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Postgres:
    state_dir: Path
    port: int = 5433
    superuser_password: str = "trellis-dev"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "postgres.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "postgres.pid"

    @cached_property
    def bindir(self) -> Path:
        return pg_bindir()

    @property
    def os_user(self) -> str | None:
        return OS_USER if os.geteuid() == 0 else None

    # -- lifecycle ---------------------------------------------------------------------

    def running(self) -> bool:
        return proc.pid_alive(self.pid_file) is not None

    def start(self) -> None:
        with proc.locked(self.state_dir / ".start.lock"):
            self._start()

    def _start(self) -> None:
        if self.running():
            self._wait_ready(timeout=60.0)
            return
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_conf()
        self._clear_stale_lock()
        if not proc.port_free(self.port):
            raise RuntimeError(f"postgres port {self.port} is already in use")
        proc.spawn(
            [str(self.bindir / "postgres"), "-D", str(self.data_dir)],
            log_file=self.log_file,
            pid_file=self.pid_file,
            cwd=self.state_dir,
            user=self.os_user,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        # Crash recovery after kill9() happens here; it is bounded by max_wal_size.
        self._wait_ready(timeout=120.0)

    def stop(self) -> None:
        # SIGINT is pg_ctl's "fast" mode: roll back open transactions, checkpoint, exit.
        # (SIGTERM would be "smart" and wait for every client to disconnect.)
        proc.stop(self.pid_file, timeout=60.0, sig=signal.SIGINT)

    def kill9(self) -> None:
        """SIGKILL the postmaster and all its backends at once (a crash, for chaos tests)."""
        proc.kill9(self.pid_file)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_ready(self, *, timeout: float) -> None:
        proc.wait_port(
            "127.0.0.1",
            self.port,
            timeout=timeout,
            proc_pid_file=self.pid_file,
            log_file=self.log_file,
        )
        # The port opens before recovery ends; pg_isready says when logins are accepted.
        deadline = time.monotonic() + timeout
        while True:
            res = subprocess.run(
                [
                    str(self.bindir / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ],
                check=False,
            )
            if res.returncode == 0:
                return
            if not self.running():
                raise RuntimeError(f"postgres exited during start-up:\n{proc.tail(self.log_file)}")
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"postgres not ready after {timeout:.0f}s:\n{proc.tail(self.log_file)}"
                )
            time.sleep(0.1)

    def _prepare_dirs(self) -> None:
        for d in (self.state_dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        if self.os_user is not None:
            pw = pwd.getpwnam(self.os_user)
            for p in (self.state_dir, self.socket_dir, self.log_file):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            # initdb and the server need to reach state_dir through every parent folder.
            probe = proc.run(["test", "-w", str(self.state_dir)], user=self.os_user, check=False)
            if probe.returncode != 0:
                raise RuntimeError(
                    f"OS user {self.os_user!r} cannot reach {self.state_dir}; "
                    "every parent folder needs o+x"
                )

    def _initdb(self) -> None:
        if self.data_dir.exists():  # a half-done earlier initdb
            shutil.rmtree(self.data_dir)
        pwfile = self.state_dir / ".initdb-pw"
        pwfile.write_text(self.superuser_password + "\n")
        try:
            if self.os_user is not None:
                pw = pwd.getpwnam(self.os_user)
                os.chown(pwfile, pw.pw_uid, pw.pw_gid)
            pwfile.chmod(0o600)
            proc.run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                user=self.os_user,
                cwd=self.state_dir,
                env={**os.environ, "LC_ALL": "C.UTF-8"},
                timeout=300.0,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                f"\n# Settings managed by trellis_infra.postgres (rewritten on start)\n"
                f"{_INCLUDE_LINE}\n"
            )

    def _write_conf(self) -> None:
        settings = {
            **_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": quote_literal(str(self.socket_dir)),
        }
        path = self.data_dir / "trellis.conf"
        path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        if self.os_user is not None:
            pw = pwd.getpwnam(self.os_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _clear_stale_lock(self) -> None:
        """Postgres itself ignores a postmaster.pid whose pid is dead, but after a machine
        restart that pid may belong to another process; our pid file knows better."""
        lock = self.data_dir / "postmaster.pid"
        if not lock.exists():
            return
        with contextlib.suppress(ValueError, IndexError, OSError):
            pid = int(lock.read_text().split()[0])
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"postgres"):
                raise RuntimeError(
                    f"a postgres (pid {pid}) already runs on {self.data_dir} but "
                    f"{self.pid_file} does not name it; stop it first"
                )
        lock.unlink(missing_ok=True)

    # -- connections -------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        return self.dsn(user="postgres", password=self.superuser_password, database="postgres")

    def dsn(self, *, user: str, password: str, database: str) -> str:
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    async def _admin(self, database: str = "postgres") -> asyncpg.Connection:
        # Through admin_dsn, so that a subclass pointing at an external server works too.
        return await asyncpg.connect(self.admin_dsn, database=database)

    async def ensure_database(self, name: str) -> None:
        conn = await self._admin()
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        finally:
            await conn.close()

    async def drop_database(self, name: str) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await conn.close()

    async def ensure_service_role(
        self, *, database: str, role: str, password: str, schema: str
    ) -> None:
        """Give ``role`` a login, its own ``schema`` in ``database`` and nothing else there.

        Idempotent and safe to run concurrently (serialised by an advisory lock).
        """
        for ident in (role, schema):
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", ident):
                raise ValueError(f"unsafe identifier {ident!r}")
        r, s, db = quote_ident(role), quote_ident(schema), quote_ident(database)
        conn = await self._admin(database)
        try:
            lock_key = zlib.crc32(b"trellis_infra.ensure_service_role")
            await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
            try:
                async with conn.transaction():
                    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
                    verb = "ALTER" if exists else "CREATE"
                    await conn.execute(
                        f"{verb} ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                        f"NOREPLICATION NOBYPASSRLS INHERIT PASSWORD {quote_literal(password)}"
                    )
                    # Nobody but the owner (postgres) uses or creates in public.
                    await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
                    # Only roles granted CONNECT may log in to this database; no TEMP tables.
                    await conn.execute(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
                    await conn.execute(f"GRANT CONNECT ON DATABASE {db} TO {r}")
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {r}")
                    await conn.execute(f"ALTER SCHEMA {s} OWNER TO {r}")
                    await conn.execute(f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC")
                    await conn.execute(f"ALTER ROLE {r} IN DATABASE {db} SET search_path = {s}")
                    await conn.execute(f"ALTER ROLE {r} SET search_path = {s}")
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
        finally:
            await conn.close()
