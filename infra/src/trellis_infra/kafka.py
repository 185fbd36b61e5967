"""A single-node Apache Kafka in KRaft mode (combined broker + controller), run from jars
that Maven fetches from Maven Central (see infra/kafka/pom.xml).

The quorum is static (``controller.quorum.voters``), so storage is formatted without
``--standalone`` and the ports may change between runs on the same data folder.
Verified with aiokafka 0.14.0 (idempotent producer, gzip, headers, consumer groups with
manual commits) against this broker version: infra/selfcheck.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from trellis_infra import proc

KAFKA_VERSION = "4.4.0"

INFRA_DIR = Path(__file__).resolve().parents[2]
POM = INFRA_DIR / "kafka" / "pom.xml"
LOG4J_CONFIG = INFRA_DIR / "kafka" / "log4j2.yaml"

_MARKER = ".trellis-complete"
_TOPIC_ALREADY_EXISTS = 36


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes() + KAFKA_VERSION.encode()).hexdigest()


def ensure_jars(cache_dir: Path) -> Path:
    """The folder holding the broker's jars, fetched with Maven on first use.

    Safe to call from several processes at once (a file lock); refetches when the pom changes.
    """
    root = cache_dir / f"kafka-{KAFKA_VERSION}"
    libs = root / "libs"
    digest = _pom_digest()
    if (libs / _MARKER).exists() and (libs / _MARKER).read_text().strip() == digest:
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (libs / _MARKER).exists() and (libs / _MARKER).read_text().strip() == digest:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("mvn not found; run infra/bootstrap.sh")
        tmp = root / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        print(
            f"[kafka] fetching Kafka {KAFKA_VERSION} jars with Maven into {libs} ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.monotonic()
        res = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(POM),
                f"-Dkafka.version={KAFKA_VERSION}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if res.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"mvn failed (exit {res.returncode}):\n{res.stdout}{res.stderr}")
        (tmp / _MARKER).write_text(digest + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        jars = len(list(libs.glob("*.jar")))
        print(
            f"[kafka] {jars} jars ready in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    return libs


def _cluster_id() -> str:
    # Kafka's Uuid: 16 random bytes, url-safe base64 without padding; like Kafka's own
    # Uuid.randomUuid() we avoid ids starting with "-" (they read as a CLI flag).
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


@dataclass
class Kafka:
    state_dir: Path
    cache_dir: Path
    port: int = 9092
    controller_port: int = 9093

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running(self) -> bool:
        return proc.pid_alive(self.pid_file) is not None

    def start(self) -> None:
        with proc.locked(self.state_dir / ".start.lock"):
            self._start()

    def _start(self) -> None:
        if self.running():
            self._wait_ready(timeout=120.0)
            return
        for port in (self.port, self.controller_port):
            if not proc.port_free(port):
                raise RuntimeError(f"Kafka port {port} is already in use")
        libs = ensure_jars(self.cache_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        java = _java()
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            proc.run(
                [
                    java,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(self.config_file),
                ],
                env={**os.environ, "KAFKA_HEAP_OPTS": "-Xmx256m"},
            )
        with self.log_file.open("a") as fh:
            fh.write(f"\n===== trellis: starting Kafka {KAFKA_VERSION} at {time.ctime()} =====\n")
        proc.spawn(
            [
                java,
                "-Xms256m",
                "-Xmx768m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(self.config_file),
            ],
            log_file=self.log_file,
            pid_file=self.pid_file,
            cwd=self.state_dir,
        )
        self._wait_ready(timeout=120.0)

    def stop(self) -> None:
        proc.stop(self.pid_file, timeout=60.0)

    def kill9(self) -> None:
        proc.kill9(self.pid_file)

    def _write_config(self) -> None:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "6",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "12",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # After a kill -9 the controller refuses the broker's new registration until the
            # old session expires (default 9 s); a shorter session makes chaos restarts quick.
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            "delete.topic.enable": "true",
        }
        self.config_file.write_text(
            "# Written by trellis_infra.kafka on every start; edits are lost.\n"
            + "".join(f"{k}={v}\n" for k, v in props.items())
        )

    def _wait_ready(self, *, timeout: float) -> None:
        started = time.monotonic()
        proc.wait_port(
            "127.0.0.1",
            self.port,
            timeout=timeout,
            proc_pid_file=self.pid_file,
            log_file=self.log_file,
        )
        remaining = max(5.0, timeout - (time.monotonic() - started))
        try:
            proc.run_coro(self._wait_metadata(remaining))
        except Exception as exc:
            raise RuntimeError(
                f"Kafka on {self.bootstrap} not ready: {exc!r}\n{proc.tail(self.log_file)}"
            ) from exc

    async def _wait_metadata(self, timeout: float) -> None:
        """Until the broker answers a metadata request and lists itself."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise RuntimeError("Kafka exited during start-up")
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                if cluster.get("brokers"):
                    return
            except KafkaError:
                if time.monotonic() >= deadline:
                    raise
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            if time.monotonic() >= deadline:
                raise TimeoutError("no broker in cluster metadata")
            await asyncio.sleep(0.2)

    async def create_topics(self, names: list[str], *, partitions: int = 6) -> None:
        """Create the topics that do not exist yet and wait until every partition has a leader."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [n for n in dict.fromkeys(names) if n not in existing]
            if missing:
                resp = await admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
                for topic, code, *rest in resp.topic_errors:
                    if code not in (0, _TOPIC_ALREADY_EXISTS):
                        msg = rest[0] if rest else ""
                        raise for_code(code)(f"creating topic {topic}: {msg}")
            await _wait_leaders(admin, list(dict.fromkeys(names)))
        finally:
            await admin.close()


async def _wait_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        topics = await admin.describe_topics(names)
        ready = all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in topics
        )
        if ready and len(topics) == len(names):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics without leaders after {timeout}s: {topics}")
        await asyncio.sleep(0.1)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java not found; run infra/bootstrap.sh")
    return java
