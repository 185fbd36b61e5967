"""docker-compose.yml, the images and infra/k8s, checked without a Docker engine or a cluster.

Each checker returns the problems it finds; every test that passes the real files also shows that
the checker catches a deliberately broken copy.
"""

import asyncio
import copy
import importlib
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from trellis_infra.gateway import (
    CONTAINER_DOCUMENTS_DIR,
    CONTAINER_SERVICE_PORT,
    CONTAINER_STATE_DIR,
    LARGE_BODY_PATHS,
    SSE_PATHS,
    Gateway,
)
from trellis_infra.kafka import KAFKA_VERSION, Kafka
from trellis_infra.postgres import Postgres
from trellis_infra.stack import SERVICES, Stack, StackConfig
from trellis_shared.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "infra" / "k8s"
K8S_VERSION = "1.37.0"
# Where Jaeger v2 takes OTLP over gRPC, and Mailpit SMTP, by default.
JAEGER_OTLP_GRPC = "jaeger:4317"
MAILPIT_SMTP = ("mailpit", 1025)
UP = StackConfig.for_up()

# -- settings: the names a service reads, and whether it starts with a given environment ----------


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"trellis_{service}.settings")
    (cls,) = [
        c
        for c in vars(module).values()
        if isinstance(c, type)
        and issubclass(c, ServiceSettings)
        and c.__module__ == module.__name__
    ]
    return cls


def env_names(service: str) -> set[str]:
    cls = settings_class(service)
    return {f"{cls.model_config['env_prefix']}{name}".upper() for name in cls.model_fields}


def load_settings(service: str, env: dict[str, str]) -> ServiceSettings:
    """The service's settings read from exactly `env` (none of this process's own variables)."""
    cls = settings_class(service)
    prefix = cls.model_config["env_prefix"].upper()
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.upper().startswith(prefix)]:
            del os.environ[key]
        os.environ.update({k: str(v) for k, v in env.items()})
        return cls()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def unknown_names(service: str, env: dict[str, str]) -> list[str]:
    return [f"{service}: {n} is not a setting" for n in sorted(set(env) - env_names(service))]


# -- docker-compose.yml ------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def interpolate(value: object) -> str:
    """Compose's ${VAR:-default} with VAR unset, as on a machine that sets nothing."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value))


def compose_schema_errors(doc: dict) -> list[str]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendored / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def local_broker_properties() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        kafka = Kafka(state_dir=Path(tmp), cache_dir=Path(tmp))
        kafka._write_config()
        lines = kafka.config_file.read_text().splitlines()
    props = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    # Addresses, paths and the chaos tests' fast session timeouts are the local stack's own.
    own = {"controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs"}
    own |= {"listener.security.protocol.map", "broker.heartbeat.interval.ms"}
    own |= {"broker.session.timeout.ms"}
    return {k: v for k, v in props.items() if k not in own}


def compose_problems(doc: dict) -> list[str]:
    problems: list[str] = []
    services = doc["services"]

    def expect(what: str, got: object, want: object) -> None:
        if got != want:
            problems.append(f"{what}: {got!r}, expected {want!r}")

    collector = yaml.safe_load((REPO / "infra/docker/otel-collector.yaml").read_text())
    otlp_port = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":")[-1]
    secrets = set()
    for svc in SERVICES:
        spec = services[svc]
        env = {k: interpolate(v) for k, v in spec.get("environment", {}).items()}
        problems += unknown_names(svc, env)
        try:
            s = load_settings(svc, env)
        except ValidationError as exc:
            problems.append(f"{svc}: its settings refuse the environment: {exc}")
            continue
        secrets.add(s.jwt_secret)
        url = f"postgresql+asyncpg://{svc}:{Stack.service_password(svc)}@postgres:5432/trellis"
        for field, want in {
            "environment": "development",
            "host": "0.0.0.0",
            "port": CONTAINER_SERVICE_PORT,
            "db_schema": svc,
            "database_url": url,
            "kafka_bootstrap": "kafka:9092",
            "otlp_endpoint": f"http://otel-collector:{otlp_port}",
        }.items():
            expect(f"{svc} {field}", getattr(s, field), want)
        expect(f"{svc} ports", spec.get("ports"), [f"127.0.0.1:{UP.service_ports[svc]}:{s.port}"])
        expect(f"{svc} build", spec["build"]["args"], {"SERVICE": svc})
        probe = " ".join(spec["healthcheck"]["test"])
        if f"http://127.0.0.1:{s.port}/healthz" not in probe:
            problems.append(f"{svc}: the healthcheck does not ask /healthz on {s.port}")
        deps = spec.get("depends_on", {})
        for dep, condition in {
            "postgres": "service_healthy",
            "kafka": "service_healthy",
            "topics": "service_completed_successfully",
            "otel-collector": "service_started",
        }.items():
            expect(f"{svc} depends on {dep}", deps.get(dep, {}).get("condition"), condition)
    expect("services sharing one JWT secret", len(secrets), 1)
    env = {k: interpolate(v) for k, v in services["notifications"]["environment"].items()}
    notifications = load_settings("notifications", env)
    expect("SMTP", (notifications.smtp_host, notifications.smtp_port), MAILPIT_SMTP)
    expect(
        "notifications depends on mailpit",
        "mailpit" in services["notifications"]["depends_on"],
        True,
    )

    gateway = services["gateway"]
    expect("gateway ports", gateway["ports"], [f"{UP.gateway_port}:8080"])
    expect("gateway image", gateway["build"]["dockerfile"], "infra/docker/gateway.Dockerfile")
    deps = {k: v["condition"] for k, v in gateway["depends_on"].items()}
    expect("gateway dependencies", deps, dict.fromkeys(SERVICES, "service_healthy"))

    postgres = services["postgres"]
    expect("postgres ports", postgres["ports"], [f"127.0.0.1:{UP.pg_port}:5432"])
    expect("postgres database", postgres["environment"]["POSTGRES_DB"], "trellis")
    init = "./infra/postgres/init.sql:/docker-entrypoint-initdb.d/10-trellis.sql:ro"
    expect("postgres init.sql", init in postgres["volumes"], True)

    kafka = services["kafka"]
    env = kafka["environment"]
    expect("kafka image", kafka["image"], f"apache/kafka:{KAFKA_VERSION}")
    expect("kafka ports", kafka["ports"], [f"127.0.0.1:{UP.kafka_port}:19092"])
    advertised = "PLAINTEXT://kafka:9092,HOST://localhost:" + str(UP.kafka_port)
    expect("kafka advertised", env["KAFKA_ADVERTISED_LISTENERS"], advertised)
    for prop, value in local_broker_properties().items():
        expect(f"kafka {prop}", str(env.get("KAFKA_" + prop.replace(".", "_").upper())), value)
    topics = services["topics"]["command"][-1]
    compile(topics, "topics", "exec")
    partitions = ServiceSettings.model_fields["topic_partitions"].default
    for needle in ("registered_contracts()", "dlq_topic(t)", '"kafka:9092"', f"={partitions})"):
        expect(f"topics command has {needle}", needle in topics, True)

    traces = collector["service"]["pipelines"]["traces"]["exporters"]
    expect(
        "traces exported to Jaeger", collector["exporters"][traces[0]]["endpoint"], JAEGER_OTLP_GRPC
    )
    mount = "./infra/docker/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro"
    expect("collector config", services["otel-collector"]["volumes"], [mount])
    expect("Jaeger UI", services["jaeger"]["ports"], ["16686:16686"])
    expect("Mailpit UI", services["mailpit"]["ports"], ["8025:8025"])
    return problems


def test_compose_is_valid_against_the_compose_specification():
    assert compose_schema_errors(compose()) == []
    broken = compose()
    broken["services"]["profiles"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["gateway"]["helthcheck"] = broken["services"]["gateway"].pop("healthcheck")
    assert len(compose_schema_errors(broken)) >= 2


def test_compose_matches_the_settings_and_infra():
    assert compose_problems(compose()) == []


DELETE = object()


def _set(node, path: str, value: object) -> None:
    *parents, last = [int(k) if k.isdigit() else k for k in path.split("/")]
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("profiles/environment/PROFILES_KAFKA_BOOTSTRAPS", "kafka:9092", "not a setting"),
        ("matching/environment/MATCHING_PORT", "8002", "matching port"),
        ("sessions/environment/SESSIONS_DB_POOL_SIZE", "0", "refuse the environment"),
        ("notifications/environment/NOTIFICATIONS_SMTP_HOST", "smtp", "SMTP"),
        ("notifications/depends_on/topics", DELETE, "notifications depends on topics"),
        ("gateway/depends_on/sessions/condition", "service_started", "gateway dependencies"),
        ("kafka/environment/KAFKA_NUM_PARTITIONS", 3, "kafka num.partitions"),
        ("profiles/environment/PROFILES_JWT_SECRET", "another-secret", "one JWT secret"),
    ],
)
def test_the_compose_checker_catches_a_broken_copy(path, value, problem):
    broken = compose()
    _set(broken["services"], path, value)
    assert any(problem in p for p in compose_problems(broken)), compose_problems(broken)


# -- the images ----------------------------------------------------------------------------------


def test_the_service_image_runs_unprivileged_migrates_then_serves():
    text = (REPO / "infra/docker/Dockerfile").read_text()
    user = re.findall(r"^USER (\d+)", text, re.M)
    assert user and int(user[-1]) != 0
    assert f"127.0.0.1:{CONTAINER_SERVICE_PORT}/healthz" in text
    assert re.search(r"^CMD .*migrate && exec python -m \S+ serve", text, re.M)


def test_the_gateway_image_renders_its_config_with_trellis_infra():
    text = (REPO / "infra/docker/gateway.Dockerfile").read_text()
    assert "python -m trellis_infra.gateway /out" in text
    assert "COPY --from=render /out/nginx.conf /etc/nginx/nginx.conf" in text
    assert f"COPY --from=render /out/public {CONTAINER_DOCUMENTS_DIR}" in text
    assert f"mkdir -p {CONTAINER_STATE_DIR}/tmp" in text


def normalized(config: str, state_dir: Path | str) -> str:
    """A gateway config without what differs by design between a local and a container one."""
    text = config.replace(str(state_dir) + "/public", "<docs>").replace(str(state_dir), "<state>")
    text = text.replace(str(CONTAINER_DOCUMENTS_DIR), "<docs>")
    for directive in ("server", "listen", "error_log", "access_log"):
        text = re.sub(rf"\b{directive} \S+ ", f"{directive} <address> ", text)
    text = text.replace("user root root;", "")  # the local gateway's, under root
    return "\n".join(line for line in text.splitlines() if "X-Gateway-Config" not in line)


def container_gateway() -> str:
    return Gateway.for_containers(SERVICES).render()[0]


def test_the_container_gateway_routes_like_the_local_one(tmp_path):
    local = Gateway(state_dir=tmp_path, upstreams=dict(UP.service_ports)).render()[0]
    container = container_gateway()
    assert normalized(container, CONTAINER_STATE_DIR) == normalized(local, tmp_path.resolve())
    for svc in SERVICES:
        assert f"location ^~ /{svc}/ {{" in container
        assert f"server {svc}:{CONTAINER_SERVICE_PORT} max_fails=0;" in container
    for path in [p for paths in SSE_PATHS.values() for p in paths]:
        assert f"location ^~ {path} {{" in container
    for path in [p for paths in LARGE_BODY_PATHS.values() for p in paths]:
        assert f"location = {path} {{" in container
    assert f"alias {CONTAINER_DOCUMENTS_DIR}/asyncapi.yaml;" in container
    assert "listen 0.0.0.0:8080 " in container
    # The comparison notices a route that exists on one side only.
    broken = container.replace("location ^~ /sessions/ {", "location ^~ /session/ {")
    assert normalized(broken, CONTAINER_STATE_DIR) != normalized(local, tmp_path.resolve())


def test_the_k8s_gateway_config_is_the_rendered_one():
    assert (K8S / "gateway/nginx.conf").read_text() == container_gateway(), (
        "regenerate: python -m trellis_infra.gateway --config-only infra/k8s/gateway"
    )


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_accepts_the_container_gateway_config(tmp_path):
    # Service names do not resolve here, and the container's paths are not ours to write.
    text = re.sub(rf"\b(?:{'|'.join(SERVICES)}):\d+", "127.0.0.1:9", container_gateway())
    text = text.replace(str(CONTAINER_STATE_DIR), str(tmp_path))
    (tmp_path / "tmp").mkdir()
    for config in (text, text.replace("proxy_buffering off;", "proxy_buffering sideways;")):
        (tmp_path / "nginx.conf").write_text(config)
        check = [shutil.which("nginx"), "-t", "-q", "-p", str(tmp_path), "-e", "stderr"]
        result = subprocess.run([*check, "-c", str(tmp_path / "nginx.conf")], capture_output=True)
        assert (result.returncode == 0) == (config == text), result.stderr.decode()


# -- infra/postgres/init.sql, run as the postgres image runs it --------------------------------


@pytest.fixture(scope="module")
def fresh_postgres():
    """A cluster of its own: the roles init.sql creates are cluster-wide."""
    base = int(os.environ.get("TRELLIS_TEST_SERVICE_PORT_BASE", "18000"))
    name = os.environ.get("TRELLIS_TEST_STACK_NAME", "test")
    pg = Postgres(state_dir=REPO / ".trellis" / f"{name}-initsql", port=base + 30)
    pg.stop()
    shutil.rmtree(pg.state_dir, ignore_errors=True)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(pg.state_dir, ignore_errors=True)


async def test_init_sql_gives_each_service_its_own_schema_only(fresh_postgres):
    pg = fresh_postgres
    await pg.ensure_database("trellis")
    psql = [str(pg.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
    psql += ["-p", str(pg.port), "-U", "postgres", "-d", "trellis"]
    env = {**os.environ, "PGPASSWORD": pg.superuser_password}
    init = str(REPO / "infra/postgres/init.sql")
    run = subprocess.run
    await asyncio.to_thread(run, [*psql, "-f", init], env=env, check=True, capture_output=True)
    for svc in SERVICES:
        dsn = pg.dsn(user=svc, password=Stack.service_password(svc), database="trellis")
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT current_schema()") == svc
            await conn.execute("CREATE TABLE probe (id int)")
            for elsewhere in [s for s in SERVICES if s != svc] + ["public"]:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(f"CREATE TABLE {elsewhere}.intruder (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TEMP TABLE scratch (id int)")
        finally:
            await conn.close()
    # Run twice, it fails: the image runs it once, on a new data volume.
    again = await asyncio.to_thread(run, [*psql, "-f", init], env=env, capture_output=True)
    assert again.returncode != 0


# -- infra/k8s ---------------------------------------------------------------------------------


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def k8s_documents() -> list[dict]:
    docs = []
    for name in kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def k8s_configs() -> dict[str, dict[str, str]]:
    configs = {}
    for generator in kustomization()["configMapGenerator"]:
        data = {}
        for env_file in generator.get("envs", []):
            for line in (K8S / env_file).read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    data[key] = value
        configs[generator["name"]] = data
    return configs


def container_env(container: dict, configs: dict) -> tuple[dict[str, str], dict[str, bool]]:
    """The variables a container gets from its ConfigMaps, and the Secret ones (-> optional)."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(configs.get(source["configMapRef"]["name"], {}))
    secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"].get("optional", False)
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    values.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return values, secret


def security_problems(name: str, pod: dict) -> list[str]:
    problems = []
    ctx = pod.get("securityContext", {})
    if ctx.get("runAsNonRoot") is not True or ctx.get("runAsUser", 0) == 0:
        problems.append(f"{name}: the pod may run as root")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
            problems.append(f"{name}/{c['name']}: escalation or a writable root file system")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{name}/{c['name']}: capabilities not dropped")
        for bound in ("requests", "limits"):
            if set(c.get("resources", {}).get(bound, {})) < {"cpu", "memory"}:
                problems.append(f"{name}/{c['name']}: no cpu and memory {bound}")
    return problems


def k8s_problems(docs: list[dict], configs: dict) -> list[str]:
    problems: list[str] = []
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for svc in SERVICES:
        pod = by[("Deployment", svc)]["spec"]["template"]["spec"]
        problems += security_problems(svc, pod)
        (main,) = [c for c in pod["containers"] if c["name"] == svc]
        (init,) = pod["initContainers"]
        if init["command"][-1] != "migrate" or main["command"][-1] != "serve":
            problems.append(f"{svc}: migrate in the init container, then serve")
        env, secret = container_env(main, configs)
        if container_env(init, configs) != (env, secret):
            problems.append(f"{svc}: the migration does not get the server's settings")
        problems += unknown_names(svc, {**env, **dict.fromkeys(secret, "")})
        strong = {n: f"postgresql+asyncpg://{svc}:{'s3' * 20}@db/trellis" for n in secret}
        strong = {n: (v if n.endswith("DATABASE_URL") else "k" * 48) for n, v in strong.items()}
        try:
            s = load_settings(svc, {**env, **strong})
        except ValidationError as exc:
            problems.append(f"{svc}: its settings refuse the environment: {exc}")
            continue
        for name, optional in secret.items():
            try:
                load_settings(svc, {**env, **{k: v for k, v in strong.items() if k != name}})
                required = False
            except ValidationError:
                required = True
            if required == optional:
                problems.append(f"{svc}: {name} optional={optional} but required={required}")
        if (s.environment, s.host) != ("production", "0.0.0.0"):
            problems.append(f"{svc}: not a production server on every interface")
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        if ports.get("http") != s.port or s.port != CONTAINER_SERVICE_PORT:
            problems.append(f"{svc}: containerPort http is not the settings' port {s.port}")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            if main.get(probe, {}).get("httpGet") != {"path": path, "port": "http"}:
                problems.append(f"{svc}: {probe} is not GET {path} on http")
        service = by[("Service", svc)]["spec"]
        if service["ports"][0]["port"] != CONTAINER_SERVICE_PORT:
            problems.append(f"{svc}: the Service is not on the gateway's upstream port")
        hpa = by[("HorizontalPodAutoscaler", svc)]["spec"]
        if hpa["scaleTargetRef"]["name"] != svc or hpa["minReplicas"] < 2:
            problems.append(f"{svc}: the autoscaler keeps fewer than 2 replicas")
        if hpa["maxReplicas"] > s.topic_partitions:
            problems.append(f"{svc}: more replicas than the {s.topic_partitions} partitions")
        pdb = by[("PodDisruptionBudget", svc)]["spec"]
        if pdb["selector"] != by[("Deployment", svc)]["spec"]["selector"]:
            problems.append(f"{svc}: the disruption budget selects other pods")
    pod = by[("Deployment", "gateway")]["spec"]["template"]["spec"]
    problems += security_problems("gateway", pod)
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    nginx = volumes.get(mounts.get("/etc/nginx/nginx.conf"), {}).get("configMap", {}).get("name")
    if nginx not in configs:
        problems.append("gateway: nginx.conf is not the generated ConfigMap")
    if "emptyDir" not in volumes.get(mounts.get(str(CONTAINER_STATE_DIR)), {}):
        problems.append("gateway: no writable state folder")
    return problems


def test_every_k8s_manifest_is_valid_kubernetes():
    docs = k8s_documents()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    broken = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paths"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_kustomization_holds_every_manifest():
    listed = set(kustomization()["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    for generator in kustomization()["configMapGenerator"]:
        for name in generator.get("envs", []) + generator.get("files", []):
            assert (K8S / name).is_file(), name


def test_k8s_matches_the_settings_and_infra():
    assert k8s_problems(k8s_documents(), k8s_configs()) == []


POD = "spec/template/spec"


@pytest.mark.parametrize(
    ("target", "path", "value", "problem"),
    [
        ("ConfigMap/profiles-config", "PROFILES_KAFKA_BOOTSTRAPS", "k:9092", "not a setting"),
        ("ConfigMap/matching-config", "MATCHING_ENVIRONMENT", "staging", "refuse"),
        ("Deployment/sessions", f"{POD}/containers/0/env/1", DELETE, "the migration"),
        (
            "Deployment/notifications",
            f"{POD}/containers/0/env/2/valueFrom/secretKeyRef/optional",
            True,
            "optional=True but required=True",
        ),
        ("Deployment/notifications", f"{POD}/securityContext/runAsUser", 0, "as root"),
        (
            "Deployment/profiles",
            f"{POD}/containers/0/readinessProbe/httpGet/path",
            "/healthz",
            "readinessProbe",
        ),
        ("Deployment/profiles", f"{POD}/initContainers/0/resources/limits", DELETE, "limits"),
        ("HorizontalPodAutoscaler/matching", "spec/maxReplicas", 12, "than the 6 partitions"),
        (
            "Deployment/gateway",
            f"{POD}/containers/0/securityContext/capabilities",
            DELETE,
            "dropped",
        ),
        ("Deployment/gateway", f"{POD}/volumes/1", DELETE, "state folder"),
    ],
)
def test_the_k8s_checker_catches_a_broken_copy(target, path, value, problem):
    docs, configs = k8s_documents(), k8s_configs()
    kind, name = target.split("/")
    if kind == "ConfigMap":
        _set(configs[name], path, value)
    else:
        _set(
            next(d for d in docs if (d["kind"], d["metadata"]["name"]) == (kind, name)), path, value
        )
    found = k8s_problems(docs, configs)
    assert any(problem in p for p in found), found


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (with kustomize) is not installed")
def test_kustomize_builds_valid_pinned_namespaced_manifests():
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    config_maps = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "trellis", doc["metadata"]
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for c in pod.get("initContainers", []) + pod["containers"]:
                assert re.fullmatch(r"trellis/[a-z]+:\d+\.\d+\.\d+", c["image"]), c["image"]
                for source in c.get("envFrom", []):
                    assert source["configMapRef"]["name"] in config_maps
            for volume in pod.get("volumes", []):
                if "configMap" in volume:
                    assert volume["configMap"]["name"] in config_maps
