"""The deployment files, checked without a Docker engine.

Dockerfile, .dockerignore, docker-compose.yml, the Prometheus, Alertmanager and Grafana configuration, the
backup scripts and .env.example are parsed and checked against the repository and the settings they deploy:
paths they copy or mount exist, names they share (services, jobs, queues, metrics, variables) agree, and the
small programs among them (health probe, gunicorn config, backup scripts) are run.
"""

import ast
import json
import os
import re
import runpy
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.urls import resolve
from rest_framework.renderers import JSONRenderer

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
BACKUP_SCRIPTS = ("ops/backup/pg_backup.sh", "ops/backup/pg_restore.sh")


# --- helpers ------------------------------------------------------------------------------------------------


def read(relative: str) -> str:
    return (ROOT / relative).read_text()


def load_yaml(relative: str):
    return yaml.safe_load(read(relative))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs in order, continuation lines joined, comments and blank lines dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in read("Dockerfile").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1].strip() + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert current == "", "the Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    """The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK ... CMD."""
    assert arguments.startswith("["), f"expected the exec form (a JSON array): {arguments}"
    return json.loads(arguments)


def env_pairs(arguments: str) -> dict[str, str]:
    pairs = {}
    for token in shlex.split(arguments):
        key, sep, value = token.partition("=")
        assert sep, f"ENV must use KEY=value: {token}"
        pairs[key] = value
    return pairs


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in read(".dockerignore").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins, ``!`` re-includes, and a matched directory excludes
    everything under it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def compose() -> dict:
    return load_yaml("docker-compose.yml")


def interpolate(value: str) -> str:
    """Compose variable interpolation as seen with an empty environment: ``${X:-default}`` gives the default."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    value = re.sub(r"\$\{[A-Z0-9_]+\}", "", value)
    return value.replace("$$", "$")


def compose_app_env() -> dict[str, str]:
    """The environment web, worker, beat and migrate get from docker-compose.yml (defaults applied)."""
    return {key: interpolate(str(value)) for key, value in compose()["services"]["web"]["environment"].items()}


def run_with_compose_env(*args: str) -> subprocess.CompletedProcess:
    """Run a Python command in the repository with only the compose environment, as the container would."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**env, **compose_app_env()}, capture_output=True, text=True, timeout=120
    )


def command_list(service: dict) -> list[str]:
    command = service["command"]
    return [interpolate(part) for part in command] if isinstance(command, list) else shlex.split(command)


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append((source, target))
    return mounts


def container_path_in_repo(service: dict, container_path: str) -> Path:
    """The repository file a bind mount of ``service`` shows at ``container_path``."""
    for source, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not under any bind mount of the service")


def prometheus_config() -> dict:
    return load_yaml("ops/prometheus/prometheus.yml")


def scrape_job(name: str) -> dict:
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    return jobs[name]


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml("ops/prometheus/alerts.yml")["groups"] for rule in group["rules"]]


def settings_env_reads() -> set[str]:
    """Every environment variable config/settings reads, found in the source (env(...), env.<type>(...),
    os.environ / os.getenv), including names iterated over in a ``for`` loop and passed on to env()."""
    names: set[str] = set()
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        loop_names: dict[str, list[str]] = {}
        for node in ast.walk(tree):
            is_literal_loop = isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple | ast.List)
            if is_literal_loop and isinstance(node.target, ast.Name):
                loop_names[node.target.id] = [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                reads_env = (isinstance(func, ast.Name) and func.id == "env") or (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "env"
                    and func.attr != "read_env"
                )
                reads_os = isinstance(func, ast.Attribute) and (
                    func.attr == "getenv"
                    or (isinstance(func.value, ast.Attribute) and func.value.attr == "environ" and func.attr == "get")
                )
                if reads_env or reads_os:
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", None) == "environ":
                key = node.slice
            if key is None:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in loop_names:
                names.update(loop_names[key.id])
            else:
                raise AssertionError(f"{path.name}:{node.lineno}: variable name is not a literal; list it literally")
    return names


_EXAMPLE_ASSIGNMENT = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=")


def env_example_entries() -> dict[str, list[str]]:
    """Variable -> the comment lines directly above its assignment in .env.example."""
    entries: dict[str, list[str]] = {}
    block: list[str] = []
    for line in read(".env.example").splitlines():
        match = _EXAMPLE_ASSIGNMENT.match(line)
        if match:
            name = match.group(2)
            assert name not in entries, f"{name} is listed twice in .env.example"
            entries[name] = block
            block = []
        elif line.startswith("#"):
            block.append(line)
        else:
            block = []
    return entries


def metric_families_exported() -> set[str]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    return {metric_family(line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE ")}


def metric_family(name: str) -> str:
    return re.sub(r"_(bucket|count|sum|total|created)$", "", name)


# --- Dockerfile ---------------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_311_slim():
    froms = [arguments.split() for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]

    assert froms == [["python:3.11-slim", "AS", "builder"], ["python:3.11-slim", "AS", "runtime"]]


def test_builder_installs_base_requirements_into_opt_venv_and_final_stage_copies_it():
    instructions = dockerfile_instructions()
    builder = instructions[: [k for k, _ in instructions].index("FROM", 1)]
    runs = " && ".join(arguments for keyword, arguments in builder if keyword == "RUN")
    copies = [arguments.split() for keyword, arguments in builder if keyword == "COPY"]

    assert "python -m venv /opt/venv" in runs
    assert ("ENV", "PATH=/opt/venv/bin:$PATH") in builder
    assert ["requirements/base.txt", "/tmp/requirements/base.txt"] in copies
    assert "pip install -r /tmp/requirements/base.txt" in runs
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in final_stage()


def test_every_copied_path_exists_and_is_sent_to_the_builder():
    checked = []
    for keyword, arguments in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        parts = shlex.split(arguments)
        if any(part.startswith("--from=") for part in parts):
            continue
        sources = [part for part in parts if not part.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{keyword} {source}: no such path in the repository"
            if source not in (".", "./"):
                assert not dockerignored(source), f"{keyword} {source}: excluded by .dockerignore"
            checked.append(source)

    assert checked == ["requirements/base.txt", "."]


def test_dockerignore_keeps_the_application_and_drops_secrets_and_local_state():
    local_apps = [app for app in settings.INSTALLED_APPS if (ROOT / app.replace(".", "/")).is_dir()]
    needed = [f"{app.replace('.', '/')}/__init__.py" for app in local_apps]
    needed += ["manage.py", "config/settings/production.py", "config/wsgi.py", "requirements/base.txt"]
    needed += ["ops/docker/gunicorn.conf.py", "ops/docker/healthcheck.py", "templates"]
    dropped = [".env", ".env.production", ".git/config", ".venv/bin/python", "db.sqlite3", "staticfiles/x.css"]
    dropped += ["media/upload.png", "ops/alertmanager/secrets/oncall_webhook_url", "config/__pycache__/urls.pyc"]

    assert len(local_apps) >= 9
    assert [path for path in needed if dockerignored(path)] == []
    assert [path for path in dropped if not dockerignored(path)] == []


def test_image_runs_production_settings_as_a_non_root_user():
    stage = final_stage()
    env = {}
    for keyword, arguments in stage:
        if keyword == "ENV":
            env.update(env_pairs(arguments))
    users = [(i, arguments) for i, (keyword, arguments) in enumerate(stage) if keyword == "USER"]
    cmd_index = [keyword for keyword, _ in stage].index("CMD")
    creates_user = " ".join(arguments for keyword, arguments in stage if keyword == "RUN")

    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["GUNICORN_WORKERS"] == "3"
    assert users, "the final stage has no USER line"
    last_index, user = users[-1]
    assert user.split(":")[0] not in ("root", "0")
    assert last_index < cmd_index
    assert re.search(rf"\buseradd --system\b.* {re.escape(user)}\b", creates_user)


def test_collectstatic_runs_at_build_time_with_base_settings_into_the_production_storage():
    runs = [arguments for keyword, arguments in final_stage() if keyword == "RUN" and "collectstatic" in arguments]
    production = run_with_compose_env(
        "-c", "import django; django.setup(); from django.conf import settings as s; print(s.STORAGES['staticfiles'])"
    )

    assert production.returncode == 0, production.stderr
    storage = ast.literal_eval(production.stdout.strip())["BACKEND"]
    assert storage == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert len(runs) == 1
    assert "DJANGO_SETTINGS_MODULE=config.settings.base" in runs[0]
    assert f"STATICFILES_STORAGE={storage}" in runs[0]
    assert "python manage.py collectstatic --noinput" in runs[0]
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


def test_healthcheck_probes_the_health_endpoint_with_the_bundled_python_script():
    (arguments,) = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    options, _, command = arguments.partition(" CMD ")
    command = exec_form(command)

    assert command == ["python", "/app/ops/docker/healthcheck.py", "http://127.0.0.1:8000/api/v1/health"]
    assert (ROOT / command[1].removeprefix("/app/")).is_file()
    assert "urllib.request" in (ROOT / command[1].removeprefix("/app/")).read_text()
    assert resolve("/api/v1/health").view_name == "v1:health"
    assert "--interval=30s" in options.split()


def test_default_command_is_gunicorn_serving_the_wsgi_app_on_port_8000():
    (arguments,) = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    command = exec_form(arguments)

    assert command[:2] == ["gunicorn", "config.wsgi:application"]
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert (ROOT / command[command.index("--config") + 1].removeprefix("/app/")).is_file()
    assert settings.WSGI_APPLICATION == "config.wsgi.application"
    assert ("EXPOSE", "8000") in final_stage()
    assert not [keyword for keyword, _ in final_stage() if keyword == "ENTRYPOINT"]


# --- gunicorn config and health probe -----------------------------------------------------------------------


def test_gunicorn_workers_come_from_the_environment_with_a_default_of_3(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    default = runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))
    monkeypatch.setenv("GUNICORN_WORKERS", "7")
    configured = runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))
    monkeypatch.setenv("GUNICORN_WORKERS", "0")
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be > 0, got 0"):
        runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))

    assert default["workers"] == 3
    assert configured["workers"] == 7
    assert default["accesslog"] == "-"
    assert default["max_requests"] == 1000
    assert default["max_requests_jitter"] == 100


def test_gunicorn_resets_the_prometheus_multiprocess_directory_on_start(monkeypatch, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    config = runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))

    config["on_starting"](None)
    (metrics_dir / "gauge_livesum_4242.db").write_bytes(b"")
    config["child_exit"](None, type("Worker", (), {"pid": 4242})())

    assert config["PROMETHEUS_MULTIPROC_DIR"] == str(metrics_dir)
    assert sorted(p.name for p in metrics_dir.iterdir()) == []


class _ProbeTarget(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self):
        type(self).hosts.append(self.headers["Host"])
        status = 200 if self.path == "/api/v1/health" else 503
        body = json.dumps({"status": "healthy" if status == 200 else "unhealthy"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_target():
    _ProbeTarget.hosts = []
    server = HTTPServer(("127.0.0.1", 0), _ProbeTarget)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def run_healthcheck(url: str, allowed_hosts: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, str(ROOT / "ops/docker/healthcheck.py"), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthcheck_passes_on_200_with_a_host_header_django_allows(probe_target):
    result = run_healthcheck(f"{probe_target}/api/v1/health", ".shop.example.com,web")

    assert result.returncode == 0, result.stderr
    assert _ProbeTarget.hosts == ["shop.example.com"]


def test_healthcheck_fails_on_503(probe_target):
    result = run_healthcheck(f"{probe_target}/api/v1/health/degraded", "*")

    assert result.returncode == 1
    assert result.stderr.strip() == f"unhealthy: {probe_target}/api/v1/health/degraded HTTP 503"
    assert _ProbeTarget.hosts == ["localhost"]


def test_healthcheck_fails_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_healthcheck(f"http://127.0.0.1:{port}/api/v1/health", "web")

    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/api/v1/health unreachable: ")


def test_healthcheck_host_choice_and_scheme_guard():
    probe = runpy.run_path(str(ROOT / "ops/docker/healthcheck.py"))

    assert probe["probe_host"]("  , *, .example.com, web") == "example.com"
    assert probe["probe_host"]("") == "localhost"
    assert probe["probe_host"]("*") == "localhost"
    assert probe["check"]("file:///etc/passwd", "localhost") == (
        False,
        "refusing to probe a non-HTTP URL: 'file:///etc/passwd'",
    )


# --- docker-compose.yml -------------------------------------------------------------------------------------


def test_compose_has_the_platform_services():
    services = compose()["services"]

    assert {"postgres", "redis", "web", "worker", "beat", "prometheus", "migrate"} <= set(services)


def test_web_worker_and_beat_share_one_build_image_and_environment():
    services = compose()["services"]
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    environments = [services[name]["environment"] for name in APP_SERVICES]

    assert len(builds) == 1
    assert len(images) == 1
    assert services["web"]["build"]["context"] == "."
    assert all(environment == environments[0] for environment in environments)


def test_compose_environment_runs_production_settings_over_local_http():
    env = compose_app_env()
    postgres = compose()["services"]["postgres"]["environment"]
    database = urlsplit(env["DATABASE_URL"])

    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert env["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1,web"
    assert len(env["DJANGO_SECRET_KEY"]) >= 50
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert (database.username, database.path) == (postgres["POSTGRES_USER"], f"/{postgres['POSTGRES_DB']}")
    assert database.password == interpolate(postgres["POSTGRES_PASSWORD"])
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
    runtime_only = {"DJANGO_SETTINGS_MODULE", "GUNICORN_WORKERS"}
    assert sorted(set(env) - settings_env_reads() - runtime_only) == []


def test_production_settings_pass_the_deploy_checks_with_the_compose_environment():
    result = run_with_compose_env("manage.py", "check", "--deploy")
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    # Only the SSL redirect, which compose turns off on purpose for plain HTTP on localhost.
    assert sorted(set(re.findall(r"\((\w+\.[EW]\d+)\)", output))) == ["security.W008"]


def test_postgres_and_redis_have_named_volumes_and_healthchecks():
    config = compose()
    postgres, redis = config["services"]["postgres"], config["services"]["redis"]

    assert postgres["image"] == "postgres:15"
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert redis["image"] == "redis:7"
    assert redis["volumes"] == ["redis-data:/data"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert {"postgres-data", "redis-data"} <= set(config["volumes"])


def test_web_waits_for_healthy_services_and_a_finished_migration():
    services = compose()["services"]

    assert services["web"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert command_list(services["migrate"]) == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "command" not in services["web"]  # the image's gunicorn CMD


def test_worker_consumes_every_queue_and_beat_runs_the_scheduler():
    services = compose()["services"]
    worker, beat = command_list(services["worker"]), command_list(services["beat"])

    assert worker[:4] == ["celery", "-A", "config", "worker"]
    assert worker[worker.index("-Q") + 1] == ",".join(settings.TASK_QUEUE_NAMES)
    assert beat[:4] == ["celery", "-A", "config", "beat"]
    assert services["beat"]["healthcheck"] == {"disable": True}
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][1]


def test_every_bind_mount_exists_in_the_repository():
    mounts = [(name, source) for name, service in compose()["services"].items() for source, _ in bind_mounts(service)]

    assert len(mounts) >= 6
    assert [(name, source) for name, source in mounts if not (ROOT / source).exists()] == []


def test_prometheus_mounts_its_config_and_the_queue_exporter_watches_the_broker_queues():
    services = compose()["services"]
    prometheus = services["prometheus"]
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    broker_db = urlsplit(interpolate(services["web"]["environment"]["CELERY_BROKER_URL"])).path.strip("/")
    keys = services["redis-exporter"]["environment"]["REDIS_EXPORTER_CHECK_SINGLE_KEYS"]

    assert prometheus["image"].startswith("prom/prometheus:")
    assert ("./ops/prometheus", "/etc/prometheus") in bind_mounts(prometheus)
    assert container_path_in_repo(prometheus, config_file) == ROOT / "ops/prometheus/prometheus.yml"
    assert keys == ",".join(f"db{broker_db}={queue}" for queue in settings.TASK_QUEUE_NAMES)


# --- Prometheus, alerts, Alertmanager, Grafana --------------------------------------------------------------


def test_prometheus_scrapes_the_app_metrics_on_web_8000():
    web = scrape_job("web")
    metrics_path = web.get("metrics_path", "/metrics")

    assert metrics_path == "/metrics"
    assert web["static_configs"] == [{"targets": ["web:8000"]}]
    assert "web" in compose()["services"]
    assert resolve(metrics_path).url_name == "prometheus-django-metrics"


def test_prometheus_targets_and_files_exist():
    config = prometheus_config()
    services = set(compose()["services"])
    prometheus = compose()["services"]["prometheus"]
    hosts = set()
    for job in config["scrape_configs"]:
        replaced = [r["replacement"] for r in job.get("relabel_configs", []) if r.get("target_label") == "__address__"]
        targets = replaced or [t for static in job["static_configs"] for t in static["targets"]]
        hosts |= {target.split(":")[0] for target in targets}
    alertmanagers = [
        target for am in config["alerting"]["alertmanagers"] for s in am["static_configs"] for target in s["targets"]
    ]

    assert hosts - {"localhost"} <= services
    assert {target.split(":")[0] for target in alertmanagers} <= services
    for rule_file in config["rule_files"]:
        assert container_path_in_repo(prometheus, rule_file).is_file()


def test_health_probe_job_uses_a_blackbox_module_that_tells_healthy_from_unhealthy():
    job = scrape_job("health")
    (module,) = job["params"]["module"]
    blackbox = load_yaml("ops/prometheus/blackbox.yml")["modules"][module]
    (pattern,) = blackbox["http"]["fail_if_body_not_matches_regexp"]
    healthy = JSONRenderer().render({"status": "healthy", "database": "healthy", "cache": "healthy"}).decode()
    unhealthy = JSONRenderer().render({"status": "unhealthy", "database": "healthy", "cache": "unhealthy"}).decode()

    assert job["static_configs"] == [{"targets": ["http://web:8000/api/v1/health"]}]
    assert resolve("/api/v1/health").view_name == "v1:health"
    assert blackbox["http"]["valid_status_codes"] == [200]
    assert re.search(pattern, healthy)
    assert not re.search(pattern, unhealthy)


def test_alert_rules_have_expr_severity_and_summary():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]

    assert len(names) == len(set(names))
    assert {"ApiHigh5xxRate", "ApiLatencyP95High", "HealthCheckFailing", "CeleryQueueBacklog"} <= set(names)
    for rule in rules:
        assert rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]


def test_alert_expressions_use_existing_jobs_metrics_and_queues():
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    exported = metric_families_exported()
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    used_jobs = set(re.findall(r'job!?="([^"]+)"', exprs))
    django_metrics = {metric_family(name) for name in re.findall(r"\b(django_[a-z0-9_]+)", exprs)}
    queue_patterns = set(re.findall(r'key=~"([^"]+)"', exprs))

    assert used_jobs <= jobs
    assert django_metrics
    assert sorted(django_metrics - exported) == []
    assert queue_patterns == {"|".join(settings.TASK_QUEUE_NAMES)}
    assert resolve("/api/v1/health").view_name.startswith("v1:")  # the view=~"v1:.+" selector


def test_every_alert_has_a_promtool_unit_test():
    tests = load_yaml("ops/prometheus/alerts.test.yml")
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}

    assert tests["rule_files"] == ["alerts.yml"]
    assert tested == {rule["alert"] for rule in alert_rules()}


def test_alertmanager_routes_every_severity_and_inhibits_only_real_alerts():
    config = load_yaml("ops/alertmanager/alertmanager.yml")
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    routes = config["route"].get("routes", [])
    alert_names = {rule["alert"] for rule in alert_rules()}
    inhibit_names = {
        matcher.split("=", 1)[1].strip('"')
        for rule in config["inhibit_rules"]
        for matcher in rule["source_matchers"] + rule["target_matchers"]
        if matcher.startswith("alertname=")
    }
    alertmanager = compose()["services"]["alertmanager"]

    assert config["route"]["receiver"] in receivers
    assert all(route["receiver"] in receivers for route in routes)
    assert [route["receiver"] for route in routes if 'severity="critical"' in route["matchers"]] == ["oncall"]
    assert inhibit_names <= alert_names
    for receiver in receivers.values():
        for webhook in receiver["webhook_configs"]:
            secret = container_path_in_repo(alertmanager, webhook["url_file"])
            assert secret.parent == ROOT / "ops/alertmanager/secrets"
    assert read("ops/alertmanager/secrets/.gitignore").split() == ["*", "!.gitignore"]


def test_grafana_provisions_the_prometheus_datasource_and_dashboards():
    grafana = compose()["services"]["grafana"]
    (datasource,) = load_yaml("ops/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    (provider,) = load_yaml("ops/grafana/provisioning/dashboards/commerce.yml")["providers"]
    dashboards = sorted(container_path_in_repo(grafana, provider["options"]["path"]).glob("*.json"))
    prometheus_port = compose()["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]

    assert (datasource["type"], datasource["url"]) == ("prometheus", f"http://prometheus:{prometheus_port}")
    assert datasource["isDefault"] is True
    assert container_path_in_repo(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml").is_file()
    assert [path.name for path in dashboards] == ["commerce-overview.json"]
    panels = json.loads(dashboards[0].read_text())["panels"]
    assert {panel["datasource"]["uid"] for panel in panels} == {datasource["uid"]}


# --- .env.example -------------------------------------------------------------------------------------------


def test_settings_reader_sees_base_and_production_variables():
    names = settings_env_reads()

    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "EMAIL_URL", "SENTRY_TRACES_SAMPLE_RATE"} <= names
    assert {"DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECURE_HSTS_SECONDS"} <= names


def test_env_example_lists_exactly_the_variables_the_settings_read():
    listed = set(env_example_entries())
    read_by_settings = settings_env_reads()

    assert sorted(read_by_settings - listed) == [], "read by config/settings but missing from .env.example"
    assert sorted(listed - read_by_settings) == [], "in .env.example but not read by config/settings"


def test_env_example_documents_each_variable_with_its_default_and_changes_nothing_when_copied():
    text = read(".env.example")

    assert "EMBEDDED DEFAULT" in text
    for name, comments in env_example_entries().items():
        assert [line for line in comments if line.startswith("# Default: ")], f"{name} has no 'Default:' line"
        assert len(comments) >= 2, f"{name} has no description"
    assert [line for line in text.splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)] == []


# --- backup scripts -----------------------------------------------------------------------------------------


def test_backup_scripts_are_strict_bash_and_executable():
    for script in BACKUP_SCRIPTS:
        path = ROOT / script
        lines = path.read_text().splitlines()

        assert lines[0] == "#!/usr/bin/env bash", script
        assert "set -euo pipefail" in lines, script
        assert os.access(path, os.X_OK), f"{script} is not executable (chmod +x and commit the mode)"
        subprocess.run(["bash", "-n", str(path)], check=True)


FAKE_PG_DUMP = """#!/usr/bin/env bash
printf 'pg_dump %s\\n' "$*" >> "$FAKE_PG_LOG"
for arg in "$@"; do case "$arg" in --file=*) out=${arg#--file=} ;; esac; done
printf 'PGDMP fake archive\\n' > "$out"
exit "${FAKE_PG_DUMP_EXIT:-0}"
"""
FAKE_PG_RESTORE = """#!/usr/bin/env bash
printf 'pg_restore %s\\n' "$*" >> "$FAKE_PG_LOG"
exit 0
"""


@pytest.fixture
def fake_pg(tmp_path):
    """pg_dump and pg_restore stand-ins that record their arguments, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("pg_dump", FAKE_PG_DUMP), ("pg_restore", FAKE_PG_RESTORE)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "pg.log"
    log.touch()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_PG_LOG": str(log),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "DATABASE_URL": "psql://shop:s3cret@db.internal:5432/shop",
    }
    return env, log, tmp_path / "backups"


def run_script(script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / script), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def aged_file(path: Path, days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("old")
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_pg_backup_dumps_to_a_new_file_and_keeps_n_days(fake_pg):
    env, log, backups = fake_pg
    expired = aged_file(backups / "commerce-20200101T000000Z.dump", days=3)
    kept = aged_file(backups / "commerce-20200103T000000Z.dump", days=1)
    unrelated = aged_file(backups / "notes.txt", days=30)

    result = run_script("ops/backup/pg_backup.sh", {**env, "BACKUP_KEEP_DAYS": "2"})

    assert result.returncode == 0, result.stderr
    new = Path(result.stdout.strip())
    assert new.parent == backups
    assert re.fullmatch(r"commerce-\d{8}T\d{6}Z\.dump", new.name)
    assert new.read_text() == "PGDMP fake archive\n"
    assert sorted(p.name for p in backups.iterdir()) == sorted([new.name, kept.name, unrelated.name])
    assert not expired.exists()
    calls = log.read_text().splitlines()
    assert calls[0] == (
        "pg_dump --format=custom --no-owner --no-privileges "
        f"--dbname=postgresql://shop:s3cret@db.internal:5432/shop --file={new}.partial"
    )
    assert calls[1] == f"pg_restore --list {new}.partial"


def test_pg_backup_failure_leaves_no_partial_file_and_keeps_old_backups(fake_pg):
    env, _, backups = fake_pg
    old = aged_file(backups / "commerce-20200101T000000Z.dump", days=30)

    result = run_script("ops/backup/pg_backup.sh", {**env, "FAKE_PG_DUMP_EXIT": "1", "BACKUP_KEEP_DAYS": "1"})

    assert result.returncode == 1
    assert "pg_dump failed; older backups were left untouched" in result.stderr
    assert sorted(p.name for p in backups.iterdir()) == [old.name]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "DATABASE_URL is not a PostgreSQL URL"),
        ({"BACKUP_KEEP_DAYS": "0"}, "BACKUP_KEEP_DAYS must be a whole number >= 1, got '0'"),
        ({"BACKUP_KEEP_DAYS": "7d"}, "BACKUP_KEEP_DAYS must be a whole number >= 1, got '7d'"),
    ],
)
def test_pg_backup_refuses_bad_configuration(fake_pg, overrides, message):
    env, log, backups = fake_pg

    result = run_script("ops/backup/pg_backup.sh", {**env, **overrides})

    assert result.returncode == 1
    assert message in result.stderr
    assert log.read_text() == ""
    assert not backups.exists()


def test_pg_restore_refuses_to_overwrite_without_confirmation(fake_pg):
    env, log, backups = fake_pg
    dump = aged_file(backups / "commerce-20240101T000000Z.dump", days=1)

    result = run_script("ops/backup/pg_restore.sh", env, str(dump))

    assert result.returncode == 1
    assert "refusing to overwrite database 'shop' without --yes" in result.stderr
    assert log.read_text().splitlines() == [f"pg_restore --list {dump}"]


def test_pg_restore_latest_replaces_the_dumped_objects_in_one_transaction(fake_pg):
    env, log, backups = fake_pg
    aged_file(backups / "commerce-20240101T000000Z.dump", days=2)
    newest = aged_file(backups / "commerce-20240102T000000Z.dump", days=1)

    result = run_script("ops/backup/pg_restore.sh", env, "--yes", "latest")

    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        f"pg_restore --list {newest}",
        "pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error "
        f"--dbname=postgresql://shop:s3cret@db.internal:5432/shop {newest}",
    ]


@pytest.mark.postgres
def test_backup_and_restore_round_trip_on_postgresql(tmp_path):
    import psycopg
    from psycopg import sql

    db = settings.DATABASES["default"]
    params = {k: v for k, v in {"host": db["HOST"], "port": db["PORT"], "user": db["USER"]}.items() if v}
    if db["PASSWORD"]:
        params["password"] = db["PASSWORD"]
    scratch = f"ops_backup_check_{uuid.uuid4().hex[:10]}"
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    netloc = f"{credentials}@" if credentials else ""
    netloc += f"{db['HOST'] or ''}" + (f":{db['PORT']}" if db["PORT"] else "")
    url = f"postgres://{netloc}/{scratch}"
    env = {**os.environ, "DATABASE_URL": url, "BACKUP_DIR": str(tmp_path / "backups"), "BACKUP_KEEP_DAYS": "1"}

    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            with psycopg.connect(dbname=scratch, autocommit=True, **params) as conn:
                conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL)")
                conn.execute("INSERT INTO ledger VALUES (1, 499.00), (2, 10.50)")

            backup = run_script("ops/backup/pg_backup.sh", env)
            assert backup.returncode == 0, backup.stderr

            with psycopg.connect(dbname=scratch, autocommit=True, **params) as conn:
                conn.execute("DELETE FROM ledger WHERE id = 1")
                conn.execute("UPDATE ledger SET amount = 0 WHERE id = 2")

            restore = run_script("ops/backup/pg_restore.sh", env, "--yes", backup.stdout.strip())
            assert restore.returncode == 0, restore.stderr

            with psycopg.connect(dbname=scratch, **params) as conn:
                rows = conn.execute("SELECT id, amount::text FROM ledger ORDER BY id").fetchall()
            assert rows == [(1, "499.00"), (2, "10.50")]
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
