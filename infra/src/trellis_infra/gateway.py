"""The API gateway: nginx routing /<service>/... to the services, with request ids,
per-client rate limits and problem+json errors (see infra/gateway/nginx.conf.template).

`python -m trellis_infra.gateway OUT` renders the configuration for containers (the gateway image
of docker-compose.yml, infra/k8s/gateway/nginx.conf) from the same template and routes.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from trellis_infra import proc

TEMPLATE = Path(__file__).resolve().parents[2] / "gateway" / "nginx.conf.template"

# Server-Sent Events: streamed unbuffered and allowed to stay open.
SSE_PATHS = {"notifications": ["/notifications/inbox/stream"]}

# Routes that take a larger body than `body_limit`: a bulk import uploads a whole file.
LARGE_BODY_PATHS = {"profiles": {"/profiles/imports": "20m"}}

# Below uvicorn's 5 s keep-alive, so nginx never reuses a connection the service is closing.
_UPSTREAM_KEEPALIVE_TIMEOUT = "4s"

# In a container: nginx writes only below the state folder (an emptyDir in Kubernetes, so the root
# file system stays read-only) and serves the documents baked into the gateway image.
CONTAINER_STATE_DIR = Path("/tmp/trellis-gateway")
CONTAINER_DOCUMENTS_DIR = Path("/usr/share/trellis-gateway")
CONTAINER_SERVICE_PORT = 8000


@dataclass
class Gateway:
    state_dir: Path
    port: int = 8080
    # Service name -> a local port, or "host:port" (a container's or Kubernetes Service's name).
    upstreams: dict[str, int | str] = field(default_factory=dict)
    rate_per_second: int = 50
    body_limit: str = "1m"
    # Containers: listen on every interface, log to stdout/stderr, no `user` directive (the
    # image runs nginx unprivileged), paths taken as they are inside the container.
    containers: bool = False
    documents_dir: Path | None = None

    @classmethod
    def for_containers(cls, services: tuple[str, ...], *, port: int = 8080) -> Gateway:
        """The gateway of docker-compose.yml and infra/k8s: each service by its DNS name."""
        return cls(
            state_dir=CONTAINER_STATE_DIR,
            port=port,
            upstreams={s: f"{s}:{CONTAINER_SERVICE_PORT}" for s in services},
            containers=True,
            documents_dir=CONTAINER_DOCUMENTS_DIR,
        )

    @property
    def config_file(self) -> Path:
        return self.state_dir / "nginx.conf"

    @property
    def public_dir(self) -> Path:
        return self.documents_dir or self.state_dir / "public"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "gateway.pid"

    @property
    def error_log(self) -> Path:
        return self.state_dir / "error.log"

    @property
    def access_log(self) -> Path:
        return self.state_dir / "access.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return proc.pid_alive(self.pid_file) is not None

    def render(self) -> tuple[str, str]:
        """The nginx.conf text and its config id (a hash that /healthz reports)."""
        for name in self.upstreams:
            if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
                raise ValueError(f"bad upstream name {name!r}")
        burst = 2 * self.rate_per_second
        upstream_blocks = []
        location_blocks = []
        for name, up_port in sorted(self.upstreams.items()):
            upstream_blocks.append(
                f"    upstream trellis_{name} {{\n"
                f"        server {_address(up_port)} max_fails=0;\n"
                f"        keepalive 64;\n"
                f"        keepalive_timeout {_UPSTREAM_KEEPALIVE_TIMEOUT};\n"
                f"    }}\n"
            )
            # No URI part in proxy_pass: the full original URI goes upstream unchanged.
            location_blocks.append(
                f"        location ^~ /{name}/ {{\n"
                f"            limit_req zone=per_client burst={burst} nodelay;\n"
                f"            proxy_pass http://trellis_{name};\n"
                f"        }}\n"
            )
            for path, limit in LARGE_BODY_PATHS.get(name, {}).items():
                location_blocks.append(
                    f"        location = {path} {{\n"
                    f"            limit_req zone=per_client burst={burst} nodelay;\n"
                    f"            client_max_body_size {limit};\n"
                    f"            proxy_pass http://trellis_{name};\n"
                    f"        }}\n"
                )
            for path in SSE_PATHS.get(name, []):
                location_blocks.append(
                    f"        location ^~ {path} {{\n"
                    f"            limit_req zone=per_client burst={burst} nodelay;\n"
                    f"            proxy_pass http://trellis_{name};\n"
                    f"            proxy_buffering off;\n"
                    f"            proxy_cache off;\n"
                    f"            proxy_read_timeout 1h;\n"
                    f"            proxy_send_timeout 1h;\n"
                    f"        }}\n"
                )
        # The partner contract, next to the services' OpenAPI documents (written at start).
        for name, media in (
            ("asyncapi.yaml", "application/yaml"),
            ("asyncapi.json", "application/json"),
        ):
            location_blocks.append(
                f"        location = /{name} {{\n"
                f"            default_type {media};\n"
                f"            add_header X-Request-ID $trellis_request_id always;\n"
                f"            alias {self._path(self.public_dir / name)};\n"
                f"        }}\n"
            )
        state_dir = self._path(self.state_dir)
        values = {
            "state_dir": state_dir,
            "listen": f"{'0.0.0.0' if self.containers else '127.0.0.1'}:{int(self.port)}",
            "error_log": "stderr" if self.containers else f"{state_dir}/error.log",
            "access_log": "/dev/stdout" if self.containers else f"{state_dir}/access.log",
            "rate_per_second": str(int(self.rate_per_second)),
            "body_limit": self.body_limit,
            "upstreams": "\n".join(upstream_blocks),
            "locations": "\n".join(location_blocks),
            # Workers must write temp files in the root-owned state folder; the local gateway
            # listens on 127.0.0.1 only, for development and tests.
            "user_directive": "user root root;"
            if os.geteuid() == 0 and not self.containers
            else "",
            "config_id": "",
        }
        if not re.fullmatch(r"\d+[kKmMgG]?", self.body_limit):
            raise ValueError(f"bad body_limit {self.body_limit!r}")
        text = TEMPLATE.read_text()
        config_id = hashlib.sha256(_fill(text, values).encode()).hexdigest()[:12]
        return _fill(text, {**values, "config_id": config_id}), config_id

    def _path(self, path: Path) -> str:
        # Container paths need not exist here; local ones are made absolute for nginx.
        return str(path if self.containers else path.resolve())

    def write_documents(self, folder: Path | None = None) -> None:
        """The AsyncAPI document of every event, generated from the contracts in shared/."""
        from trellis_shared import asyncapi

        folder = folder or self.public_dir
        folder.mkdir(parents=True, exist_ok=True)
        doc = asyncapi.document()
        (folder / "asyncapi.yaml").write_text(asyncapi.as_yaml(doc))
        (folder / "asyncapi.json").write_text(json.dumps(doc, indent=2) + "\n")

    def start(self) -> None:
        with proc.locked(self.state_dir / ".start.lock"):
            self._start()

    def _start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise RuntimeError("nginx not found; run infra/bootstrap.sh")
        (self.state_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.write_documents()
        text, config_id = self.render()
        self.config_file.write_text(text)
        base = [
            nginx,
            "-p",
            str(self.state_dir),
            "-e",
            str(self.error_log),
            "-c",
            str(self.config_file),
        ]
        proc.run([*base, "-t", "-q"])
        if self.running():
            proc.run([*base, "-s", "reload"])
            self._wait_config(config_id, timeout=15.0)
            return
        if not proc.port_free(self.port):
            raise RuntimeError(f"gateway port {self.port} is already in use")
        proc.spawn(
            [*base, "-g", "daemon off; master_process on;"],
            log_file=self.error_log,
            pid_file=self.pid_file,
            cwd=self.state_dir,
        )
        proc.wait_port(
            "127.0.0.1",
            self.port,
            timeout=30.0,
            proc_pid_file=self.pid_file,
            log_file=self.error_log,
        )
        self._wait_config(config_id, timeout=15.0)

    def stop(self) -> None:
        # SIGTERM is nginx's fast shutdown (SIGQUIT would wait for open SSE streams).
        proc.stop(self.pid_file, timeout=10.0)

    def _wait_config(self, config_id: str, *, timeout: float) -> None:
        """Reload is asynchronous: wait until /healthz is served by the new configuration."""
        deadline = time.monotonic() + timeout
        seen = None
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.0)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                seen = resp.getheader("X-Gateway-Config")
                if resp.status == 200 and seen == config_id:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"gateway not serving config {config_id} (saw {seen}):\n"
                    f"{proc.tail(self.error_log)}"
                )
            time.sleep(0.05)


def _address(upstream: int | str) -> str:
    if isinstance(upstream, int):
        return f"127.0.0.1:{upstream}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*:\d{1,5}", upstream):
        raise ValueError(f"bad upstream address {upstream!r}")
    return upstream


def _fill(template: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        return values[m.group(1)]

    return re.sub(r"\{\{(\w+)\}\}", sub, template)


def main(argv: list[str] | None = None) -> None:
    from trellis_infra.stack import SERVICES

    parser = argparse.ArgumentParser(
        prog="python -m trellis_infra.gateway",
        description="Render the gateway for containers: OUT/nginx.conf and OUT/public/asyncapi.*",
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--config-only", action="store_true", help="only nginx.conf")
    args = parser.parse_args(argv)
    gateway = Gateway.for_containers(SERVICES)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nginx.conf").write_text(gateway.render()[0])
    if not args.config_only:
        gateway.write_documents(args.out / "public")


if __name__ == "__main__":
    main()
