"""The whole platform on one machine without Docker: Postgres, Kafka, four services, the gateway.

`make up` and the test fixtures both drive this module, each with its own state folder and ports,
so tests never touch a running `make up`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from trellis_infra import proc
from trellis_infra.gateway import Gateway
from trellis_infra.kafka import Kafka
from trellis_infra.mailsink import MailSink
from trellis_infra.postgres import Postgres

SERVICES = ("profiles", "matching", "sessions", "notifications")
REPO_ROOT = Path(__file__).resolve().parents[3]


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class StackConfig:
    """Where one stack keeps its state and which ports it listens on."""

    name: str
    pg_port: int
    kafka_port: int
    controller_port: int
    gateway_port: int
    service_ports: dict[str, int]
    database: str = "trellis"
    root: Path = REPO_ROOT
    # Set when the database and broker are provided from outside (CI services, testcontainers).
    external_admin_dsn: str | None = None
    external_kafka: str | None = None
    environment: str = "development"
    extra_service_env: dict[str, str] = field(default_factory=dict)
    # Requests per second per client at the gateway (tests use a low one, so a test can reach it).
    gateway_rate: int = 50
    # Where notifications sends email; `make up` runs a sink there that files what arrives.
    smtp_port: int = 1025
    mail_sink: bool = False

    @property
    def state_dir(self) -> Path:
        return self.root / ".trellis" / self.name

    @property
    def cache_dir(self) -> Path:
        return self.root / ".trellis" / "cache"

    @classmethod
    def for_up(cls) -> StackConfig:
        base = _env_int("TRELLIS_SERVICE_PORT_BASE", 8000)
        return cls(
            name="up",
            pg_port=_env_int("TRELLIS_PG_PORT", 5433),
            kafka_port=_env_int("TRELLIS_KAFKA_PORT", 9092),
            controller_port=_env_int("TRELLIS_KAFKA_CONTROLLER_PORT", 9093),
            gateway_port=_env_int("TRELLIS_GATEWAY_PORT", 8080),
            service_ports={s: base + i + 1 for i, s in enumerate(SERVICES)},
            smtp_port=_env_int("TRELLIS_SMTP_PORT", 1025),
            mail_sink=True,
        )

    @classmethod
    def for_tests(cls) -> StackConfig:
        base = _env_int("TRELLIS_TEST_SERVICE_PORT_BASE", 18000)
        return cls(
            # Several suites on one machine (developers' helpers) each take a name and ports.
            name=os.environ.get("TRELLIS_TEST_STACK_NAME", "test"),
            pg_port=_env_int("TRELLIS_TEST_PG_PORT", 15433),
            kafka_port=_env_int("TRELLIS_TEST_KAFKA_PORT", 19092),
            controller_port=_env_int("TRELLIS_TEST_KAFKA_CONTROLLER_PORT", 19093),
            gateway_port=_env_int("TRELLIS_TEST_GATEWAY_PORT", 18080),
            service_ports={s: base + i + 1 for i, s in enumerate(SERVICES)},
            database="trellis_test",
            environment="test",
            gateway_rate=10,
            # Never a running `make up`'s sink; tests that read mail start their own server.
            smtp_port=base + 25,
            external_admin_dsn=os.environ.get("TRELLIS_DATABASE_URL"),
            external_kafka=os.environ.get("TRELLIS_KAFKA_BOOTSTRAP"),
        )


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        state = config.state_dir
        self.postgres = (
            _ExternalPostgres(config.external_admin_dsn)
            if config.external_admin_dsn
            else Postgres(state_dir=state / "postgres", port=config.pg_port)
        )
        self.kafka = Kafka(
            state_dir=state / "kafka",
            cache_dir=config.cache_dir,
            port=config.kafka_port,
            controller_port=config.controller_port,
        )
        self.gateway = Gateway(
            state_dir=state / "gateway",
            port=config.gateway_port,
            upstreams=dict(config.service_ports),
            rate_per_second=config.gateway_rate,
        )
        self.mailsink = MailSink(
            folder=state / "mail",
            pid_file=state / "run" / "mailsink.pid",
            log_file=state / "logs" / "mailsink.log",
            port=config.smtp_port,
        )

    # -- where things are -------------------------------------------------------------------

    @property
    def admin_dsn(self) -> str:
        return self.config.external_admin_dsn or self.postgres.admin_dsn

    @property
    def kafka_bootstrap(self) -> str:
        return self.config.external_kafka or self.kafka.bootstrap

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.gateway_port}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.service_ports[service]}"

    @staticmethod
    def service_password(service: str) -> str:
        return f"{service}-dev"

    def service_database_url(self, service: str) -> str:
        host_part = self.admin_dsn.split("@", 1)[1].rsplit("/", 1)[0]
        return (
            f"postgresql+asyncpg://{service}:{self.service_password(service)}@{host_part}"
            f"/{self.config.database}"
        )

    def service_settings(self, service: str) -> dict[str, str]:
        """The settings a service needs to join this stack (field name -> value)."""
        settings = {
            "environment": self.config.environment,
            "host": "127.0.0.1",
            "port": str(self.config.service_ports[service]),
            "database_url": self.service_database_url(service),
            "db_schema": service,
            "kafka_bootstrap": self.kafka_bootstrap,
            # Spans as JSON lines for `trellis trace` (no collector on a bare machine).
            "trace_file": str(self.config.state_dir / "traces" / f"{service}.jsonl"),
        }
        if service == "notifications":
            settings["smtp_port"] = str(self.config.smtp_port)
        return settings

    def service_env(self, service: str) -> dict[str, str]:
        prefix = service.upper()
        env = {f"{prefix}_{k.upper()}": v for k, v in self.service_settings(service).items()}
        env.update(self.config.extra_service_env)
        return env

    def _process_env(self, service: str) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.service_env(service)}

    def _pid_file(self, service: str) -> Path:
        return self.config.state_dir / "run" / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.config.state_dir / "logs" / f"{service}.log"

    # -- infrastructure ---------------------------------------------------------------------

    def start_infra(self) -> None:
        if not self.config.external_admin_dsn:
            self.postgres.start()
        if not self.config.external_kafka:
            self.kafka.start()
        asyncio.run(self.provision())

    async def provision(self) -> None:
        """Database, one schema and role per service, and every topic (idempotent)."""
        from trellis_shared import contracts  # noqa: F401  (registers every contract)
        from trellis_shared.events import dlq_topic, registered_contracts
        from trellis_shared.kafka import ensure_topics

        await self.postgres.ensure_database(self.config.database)
        for service in SERVICES:
            await self.postgres.ensure_service_role(
                database=self.config.database,
                role=service,
                password=self.service_password(service),
                schema=service,
            )
        topics = sorted({c.topic() for c in registered_contracts().values()})
        await ensure_topics(self.kafka_bootstrap, topics + [dlq_topic(t) for t in topics])

    def migrate(self, service: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", f"trellis_{service}", "migrate"],
            env=self._process_env(service),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations of {service} failed:\n{result.stdout}\n{result.stderr}")

    # -- services ---------------------------------------------------------------------------

    def start_service(self, service: str, *, wait: bool = True) -> None:
        if proc.pid_alive(self._pid_file(service)):
            return
        proc.spawn(
            [sys.executable, "-m", f"trellis_{service}", "serve"],
            log_file=self.log_file(service),
            pid_file=self._pid_file(service),
            env=self._process_env(service),
            cwd=self.config.root,
        )
        if wait:
            self.wait_ready(service)

    def wait_ready(self, service: str, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.service_url(service)}/readyz"
        last = "no answer"
        while time.monotonic() < deadline:
            if not proc.pid_alive(self._pid_file(service)):
                raise RuntimeError(f"{service} exited:\n{_tail(self.log_file(service))}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise RuntimeError(
            f"{service} not ready after {timeout}s ({last}):\n{_tail(self.log_file(service))}"
        )

    def stop_service(self, service: str) -> None:
        proc.stop(self._pid_file(service))

    def kill_service(self, service: str) -> None:
        proc.kill9(self._pid_file(service))

    def service_running(self, service: str) -> bool:
        return proc.pid_alive(self._pid_file(service)) is not None

    # -- the whole platform -----------------------------------------------------------------

    def up(self, *, services: tuple[str, ...] = SERVICES, gateway: bool = True) -> None:
        self.start_infra()
        if self.config.mail_sink:
            self.mailsink.start()
        for service in services:
            self.migrate(service)
        for service in services:
            self.start_service(service, wait=False)
        for service in services:
            self.wait_ready(service)
        if gateway:
            self.gateway.start()

    def down(self) -> None:
        if self.gateway.running():
            self.gateway.stop()
        for service in SERVICES:
            self.stop_service(service)
        if self.mailsink.running():
            self.mailsink.stop()
        if not self.config.external_kafka:
            self.kafka.stop()
        if not self.config.external_admin_dsn:
            self.postgres.stop()

    def summary(self) -> str:
        rows = [
            (
                "gateway",
                f"http://localhost:{self.config.gateway_port}",
                "routes /profiles /matching /sessions /notifications",
            ),
            *(
                (s, self.service_url(s), f"OpenAPI: {self.gateway_url}/{s}/openapi.json")
                for s in SERVICES
            ),
            (
                "postgres",
                self.admin_dsn.split("@", 1)[1].split("/")[0],
                f"database {self.config.database}",
            ),
            ("kafka", self.kafka_bootstrap, "KRaft, single node"),
        ]
        if self.config.mail_sink:
            rows.append(
                ("mail", f"smtp://127.0.0.1:{self.config.smtp_port}", f"{self.mailsink.index}")
            )
        width = max(len(r[0]) for r in rows)
        lines = [f"  {name:<{width}}  {where:<28}  {note}" for name, where, note in rows]
        lines.append(f"  logs: {self.config.state_dir}/logs  (make logs)")
        return "\n".join(lines)


class _ExternalPostgres(Postgres):
    """A server run by someone else (CI service, container): provisioned, never started here."""

    def __init__(self, admin_dsn: str) -> None:
        super().__init__(state_dir=Path("/nonexistent"), port=0)
        self._external_dsn = admin_dsn.replace("postgresql+asyncpg://", "postgresql://", 1)

    @property
    def admin_dsn(self) -> str:
        return self._external_dsn


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
