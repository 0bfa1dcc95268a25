"""The deployment files, checked without a Docker engine, for what would break a deployment.

Each test fails when the Dockerfile, docker-compose.yml, the monitoring configuration or .env.example stops
agreeing with the repository and the settings they deploy: a path they copy or mount is gone, a command
names a manage.py command, module or queue that does not exist, a probe points at the wrong place, an alert
rule fails its unit tests, a variable is undocumented. Values that may change freely (ports, intervals, image
tags, flags) are not pinned here; where two files must agree on one, the test compares them with each other.
"""

import ast
import json
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.test import Client
from django.urls import resolve
from rest_framework.renderers import JSONRenderer

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat", "backup")
# postgresql-client major version of each Debian release a python:*-slim-<release> image may be based on.
DEBIAN_POSTGRES_CLIENT = {"bookworm": 15, "trixie": 17}


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
    assert arguments.startswith("["), f"expected the exec form (a JSON array): {arguments}"
    return json.loads(arguments)


def in_repo(container_path: str) -> Path:
    """The repository file an image path under /app (the Dockerfile's WORKDIR and COPY target) comes from."""
    assert container_path.startswith("/app/"), container_path
    return ROOT / container_path.removeprefix("/app/")


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] in "*?":
            out, i = out + ("[^/]*" if pattern[i] == "*" else "[^/]"), i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins, ``!`` re-includes, a matched directory excludes all
    under it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for line in read(".dockerignore").splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


def compose() -> dict:
    return load_yaml("docker-compose.yml")


def interpolate(value: str) -> str:
    """Compose interpolation with an empty environment: ``${X:-default}`` gives the default."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z0-9_]+\}", "", value).replace("$$", "$")


def service_env(name: str) -> dict[str, str]:
    return {key: interpolate(str(value)) for key, value in compose()["services"][name]["environment"].items()}


def run_with_compose_env(*args: str) -> subprocess.CompletedProcess:
    """A Python command in the repository with only the web service's compose environment."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**env, **service_env("web")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def command_list(service: dict) -> list[str]:
    command = service["command"]
    return [interpolate(part) for part in command] if isinstance(command, list) else shlex.split(command)


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = [volume.split(":")[:2] for volume in service.get("volumes", [])]
    return [(source, target) for source, target in mounts if source.startswith(".")]


def container_path_in_repo(service: dict, container_path: str) -> Path:
    for source, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not under any bind mount of the service")


def prometheus_config() -> dict:
    return load_yaml("ops/prometheus/prometheus.yml")


def scrape_job(name: str) -> dict:
    return {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}[name]


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml("ops/prometheus/alerts.yml")["groups"] for rule in group["rules"]]


def settings_env_reads() -> set[str]:
    """Every environment variable config/settings reads (env(...), env.<type>(...), os.environ/os.getenv),
    including names iterated over in a literal ``for`` loop and passed on to env()."""
    names: set[str] = set()
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        loops = {
            node.target.id: [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
            for node in ast.walk(tree)
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple | ast.List)
            if isinstance(node.target, ast.Name)
        }
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
                key = node.args[0] if reads_env or reads_os else None
            elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", None) == "environ":
                key = node.slice
            if key is None:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
            elif isinstance(key, ast.Name) and key.id in loops:
                names.update(loops[key.id])
            else:
                raise AssertionError(f"{path.name}:{node.lineno}: variable name is not a literal; list it literally")
    return names


def env_example_entries() -> dict[str, list[str]]:
    """Variable -> the comment lines directly above its (commented-out) assignment in .env.example."""
    entries: dict[str, list[str]] = {}
    block: list[str] = []
    for line in read(".env.example").splitlines():
        if match := re.match(r"^(# )?([A-Z][A-Z0-9_]*)=", line):
            assert match.group(2) not in entries, f"{match.group(2)} is listed twice in .env.example"
            entries[match.group(2)], block = block, []
        elif line.startswith("#"):
            block.append(line)
        else:
            block = []
    return entries


def metric_family(name: str) -> str:
    return re.sub(r"_(bucket|count|sum|total|created)$", "", name)


# --- the image ------------------------------------------------------------------------------------------------


def test_every_copied_path_exists_and_is_sent_to_the_builder():
    checked = []
    for keyword, arguments in dockerfile_instructions():
        parts = shlex.split(arguments)
        if keyword not in ("COPY", "ADD") or any(part.startswith("--from=") for part in parts):
            continue
        for source in [part for part in parts if not part.startswith("--")][:-1]:
            assert (ROOT / source).exists(), f"{keyword} {source}: no such path in the repository"
            assert source in (".", "./") or not dockerignored(source), f"{keyword} {source}: in .dockerignore"
            checked.append(source)
    assert checked, "no COPY found: the Dockerfile parser is broken"


def test_dockerignore_keeps_the_application_and_drops_secrets_and_local_state():
    local_apps = [app for app in settings.INSTALLED_APPS if (ROOT / app.replace(".", "/")).is_dir()]
    needed = [f"{app.replace('.', '/')}/__init__.py" for app in local_apps] + ["manage.py", "templates"]
    needed += [str(path.relative_to(ROOT)) for path in (ROOT / "config").rglob("*.py")]
    dropped = [".env", ".git/config", ".venv/bin/python", "db.sqlite3", "media/upload.png", "backups/x.dump"]
    dropped += ["ops/alertmanager/secrets/oncall_webhook_url"]

    assert [path for path in needed if dockerignored(path)] == []
    assert [path for path in dropped if not dockerignored(path)] == []


def test_image_settings_module_exists_and_a_non_root_user_runs_the_command():
    stage = final_stage()
    env_lines = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    settings_module = re.search(r"DJANGO_SETTINGS_MODULE=(\S+)", env_lines).group(1)
    users = [(i, arguments) for i, (keyword, arguments) in enumerate(stage) if keyword == "USER"]
    cmd_index = [keyword for keyword, _ in stage].index("CMD")

    assert (ROOT / f"{settings_module.replace('.', '/')}.py").is_file()
    assert users and users[-1][0] < cmd_index, "the command must not run as root"
    assert users[-1][1].split(":")[0] not in ("root", "0")


def test_static_files_are_collected_into_the_storage_production_serves_from():
    (run,) = [arguments for keyword, arguments in final_stage() if keyword == "RUN" and "collectstatic" in arguments]
    built_with = re.search(r"STATICFILES_STORAGE=(\S+)", run).group(1)
    production = run_with_compose_env(
        "-c", "import django; django.setup(); from django.conf import settings as s; print(s.STORAGES['staticfiles'])"
    )

    assert production.returncode == 0, production.stderr
    assert ast.literal_eval(production.stdout.strip())["BACKEND"] == built_with


def test_command_healthcheck_and_ports_agree():
    stage = final_stage()
    (cmd,) = [exec_form(arguments) for keyword, arguments in stage if keyword == "CMD"]
    (healthcheck,) = [arguments for keyword, arguments in stage if keyword == "HEALTHCHECK"]
    probe = exec_form(healthcheck.partition(" CMD ")[2])
    probe_url = urlsplit(probe[-1])
    bind_port = int(cmd[cmd.index("--bind") + 1].rsplit(":", 1)[1])
    web_port = int(compose()["services"]["web"]["ports"][0].rsplit(":", 1)[1])
    scraped_port = int(scrape_job("web")["static_configs"][0]["targets"][0].rsplit(":", 1)[1])

    assert cmd[0] == "gunicorn" and cmd[1].replace(":", ".") == settings.WSGI_APPLICATION
    import_module(cmd[1].split(":")[0])
    assert in_repo(cmd[cmd.index("--config") + 1]).is_file()
    assert in_repo(probe[1]).is_file()
    assert resolve(probe_url.path).view_name == "v1:health"
    assert bind_port == probe_url.port == web_port == scraped_port


def test_image_has_a_postgresql_client_for_the_compose_server():
    base = {arguments.split()[0] for keyword, arguments in dockerfile_instructions() if keyword == "FROM"}
    releases = {name.rsplit("-", 1)[-1] for name in base}
    installs = " ".join(arguments for keyword, arguments in final_stage() if keyword == "RUN")
    server_major = int(compose()["services"]["postgres"]["image"].split(":")[1].split(".")[0])

    assert re.search(r"apt-get install [^&]*\bpostgresql-client\b", installs), "pg_dump is missing from the image"
    assert len(releases) == 1 and releases <= DEBIAN_POSTGRES_CLIENT.keys(), f"pin the Debian release: {base}"
    assert DEBIAN_POSTGRES_CLIENT[releases.pop()] >= server_major, "pg_dump must be the server's major or newer"


# --- gunicorn config and health probe -----------------------------------------------------------------------


def test_gunicorn_config_reads_workers_and_resets_the_prometheus_multiprocess_directory(monkeypatch, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    monkeypatch.setenv("GUNICORN_WORKERS", "7")
    config = runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))

    config["on_starting"](None)
    (metrics_dir / "gauge_livesum_4242.db").write_bytes(b"")
    config["child_exit"](None, type("Worker", (), {"pid": 4242})())

    assert config["workers"] == 7
    assert sorted(p.name for p in metrics_dir.iterdir()) == []
    monkeypatch.setenv("GUNICORN_WORKERS", "0")
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS must be > 0, got 0"):
        runpy.run_path(str(ROOT / "ops/docker/gunicorn.conf.py"))


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
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def run_healthcheck(url: str, allowed_hosts: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "ops/docker/healthcheck.py"), url],
        env={**os.environ, "DJANGO_ALLOWED_HOSTS": allowed_hosts},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_healthcheck_passes_on_200_with_a_host_header_django_allows(probe_target):
    result = run_healthcheck(f"{probe_target}/api/v1/health", ".shop.example.com,web")

    assert result.returncode == 0, result.stderr
    assert _ProbeTarget.hosts == ["shop.example.com"]


def test_healthcheck_fails_on_503_and_when_nothing_listens(probe_target):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    unhealthy = run_healthcheck(f"{probe_target}/api/v1/health/degraded", "*")
    unreachable = run_healthcheck(f"http://127.0.0.1:{port}/api/v1/health", "web")

    assert (unhealthy.returncode, unhealthy.stderr.strip()) == (
        1,
        f"unhealthy: {probe_target}/api/v1/health/degraded HTTP 503",
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/api/v1/health unreachable: ")


# --- docker-compose.yml -------------------------------------------------------------------------------------


def test_app_services_share_one_build_image_and_environment():
    services = compose()["services"]
    app = [services[name] for name in APP_SERVICES]
    web_env = services["web"]["environment"]

    assert len({json.dumps(service["build"], sort_keys=True) for service in app}) == 1
    assert len({service["image"] for service in app}) == 1
    assert all(web_env.items() <= service["environment"].items() for service in app)
    assert (ROOT / services["web"]["build"]["context"] / "Dockerfile").is_file()


def test_compose_environment_passes_the_deploy_checks_and_is_read_by_the_settings():
    result = run_with_compose_env("manage.py", "check", "--deploy")
    output = result.stdout + result.stderr
    runtime_only = {"DJANGO_SETTINGS_MODULE", "GUNICORN_WORKERS"}
    env_names = {name for service in APP_SERVICES for name in service_env(service)}

    assert result.returncode == 0, output
    # Only the SSL redirect, which compose turns off on purpose for plain HTTP on localhost.
    assert sorted(set(re.findall(r"\((\w+\.[EW]\d+)\)", output))) == ["security.W008"]
    assert sorted(env_names - settings_env_reads() - runtime_only) == [], "set by compose, read by nothing"


def test_app_urls_point_at_compose_services_with_matching_credentials():
    services = compose()["services"]
    env = service_env("web")
    postgres = {key: interpolate(str(value)) for key, value in services["postgres"]["environment"].items()}
    database = urlsplit(env["DATABASE_URL"])

    assert database.hostname in services
    assert (database.username, database.password, database.path) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        f"/{postgres['POSTGRES_DB']}",
    )
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        assert urlsplit(env[name]).hostname in services, name


def test_dependencies_volumes_and_bind_mounts_exist():
    config = compose()
    services = config["services"]
    named = {volume.split(":")[0] for service in services.values() for volume in service.get("volumes", [])} - {
        source for service in services.values() for source, _ in bind_mounts(service)
    }

    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        for source, _ in bind_mounts(service):
            assert (ROOT / source).exists(), f"{name} mounts {source}: no such path"
    assert named <= set(config["volumes"])


def test_service_commands_name_real_commands_apps_and_queues():
    services = compose()["services"]
    commands = get_commands()
    consumed: set[str] = set()
    for name, service in services.items():
        if name not in APP_SERVICES or "command" not in service:
            continue
        command = command_list(service)
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in commands, f"{name}: manage.py {command[2]} does not exist"
        else:
            assert command[:3] == ["celery", "-A", "config"], f"{name}: {command}"
            assert import_module("config.celery").app.main
            if "-Q" in command:
                queues = command[command.index("-Q") + 1].split(",")
                assert set(queues) <= set(settings.TASK_QUEUE_NAMES), f"{name} consumes unknown queues"
                consumed |= set(queues)
    assert consumed == set(settings.TASK_QUEUE_NAMES), "a queue that no worker consumes"
    assert [name for name in APP_SERVICES if name != "web" and "command" not in services[name]] == []


def test_backups_volume_is_mounted_where_the_image_writes_backups():
    services = compose()["services"]
    backup_dir = "/app/" + str(Path(settings.BACKUP_DIR).relative_to(settings.BASE_DIR))
    mkdirs = " ".join(arguments for keyword, arguments in final_stage() if keyword == "RUN")

    for name in ("backup", "migrate"):
        targets = [volume.split(":")[1] for volume in services[name].get("volumes", [])]
        assert backup_dir in targets, f"{name} writes backups into the container, not the volume"
    assert re.search(rf"chown [^&]*{re.escape(backup_dir)}\b", mkdirs), "the app user cannot write backups"


def test_redis_exporter_watches_every_queue_in_the_broker_db():
    services = compose()["services"]
    broker_db = urlsplit(service_env("web")["CELERY_BROKER_URL"]).path.strip("/")
    keys = services["redis-exporter"]["environment"]["REDIS_EXPORTER_CHECK_SINGLE_KEYS"].split(",")

    assert set(keys) == {f"db{broker_db}={queue}" for queue in settings.TASK_QUEUE_NAMES}


# --- Prometheus, alerts, Alertmanager, Grafana ----------------------------------------------------------------


def test_prometheus_targets_rules_and_metrics_path_exist():
    config = prometheus_config()
    services = compose()["services"]
    prometheus = services["prometheus"]
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    hosts = set()
    for job in config["scrape_configs"]:
        replaced = [r["replacement"] for r in job.get("relabel_configs", []) if r.get("target_label") == "__address__"]
        targets = replaced or [t for static in job["static_configs"] for t in static["targets"]]
        hosts |= {target.split(":")[0] for target in targets}
    alertmanagers = [
        t for am in config["alerting"]["alertmanagers"] for s in am["static_configs"] for t in s["targets"]
    ]

    assert container_path_in_repo(prometheus, config_file) == ROOT / "ops/prometheus/prometheus.yml"
    assert hosts - {"localhost"} <= set(services)
    assert {target.split(":")[0] for target in alertmanagers} <= set(services)
    for rule_file in config["rule_files"]:
        assert container_path_in_repo(prometheus, rule_file).is_file()
    assert resolve(scrape_job("web").get("metrics_path", "/metrics")).url_name == "prometheus-django-metrics"


def test_health_probe_job_uses_a_blackbox_module_that_tells_healthy_from_unhealthy():
    job = scrape_job("health")
    (module,) = job["params"]["module"]
    blackbox = load_yaml("ops/prometheus/blackbox.yml")["modules"][module]
    (pattern,) = blackbox["http"]["fail_if_body_not_matches_regexp"]
    (target,) = job["static_configs"][0]["targets"]
    healthy = JSONRenderer().render({"status": "healthy", "database": "healthy", "cache": "healthy"}).decode()
    unhealthy = JSONRenderer().render({"status": "unhealthy", "database": "healthy", "cache": "unhealthy"}).decode()

    assert resolve(urlsplit(target).path).view_name == "v1:health"
    assert re.search(pattern, healthy)
    assert not re.search(pattern, unhealthy)


def test_alert_expressions_use_existing_jobs_metrics_and_queues():
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    metrics = Client().get("/metrics").content.decode()
    exported = {metric_family(line.split()[2]) for line in metrics.splitlines() if line.startswith("# TYPE ")}
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    django_metrics = {metric_family(name) for name in re.findall(r"\b(django_[a-z0-9_]+)", exprs)}
    queue_patterns = set(re.findall(r'key=~"([^"]+)"', exprs))

    assert set(re.findall(r'job!?="([^"]+)"', exprs)) <= jobs
    assert django_metrics, "no django_* metric found in the rules: the parser is broken"
    assert sorted(django_metrics - exported) == []
    assert {queue for pattern in queue_patterns for queue in pattern.split("|")} == set(settings.TASK_QUEUE_NAMES)


def test_every_alert_has_a_unit_test():
    tests = load_yaml("ops/prometheus/alerts.test.yml")
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}

    assert tested == {rule["alert"] for rule in alert_rules()}


@pytest.mark.promtool
def test_alert_rules_pass_their_promtool_unit_tests():
    promtool = shutil.which("promtool")
    assert promtool is not None
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        result = subprocess.run([promtool, *args], cwd=ROOT / "ops/prometheus", capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_routes_to_real_receivers_and_keeps_secrets_out_of_git():
    config = load_yaml("ops/alertmanager/alertmanager.yml")
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    alert_names = {rule["alert"] for rule in alert_rules()}
    inhibited = {
        matcher.split("=", 1)[1].strip('"')
        for rule in config.get("inhibit_rules", [])
        for matcher in rule["source_matchers"] + rule["target_matchers"]
        if matcher.startswith("alertname=")
    }
    alertmanager = compose()["services"]["alertmanager"]

    assert config["route"]["receiver"] in receivers
    assert {route["receiver"] for route in config["route"].get("routes", [])} <= set(receivers)
    assert inhibited <= alert_names
    for receiver in receivers.values():
        for webhook in receiver.get("webhook_configs", []):
            secret = container_path_in_repo(alertmanager, webhook["url_file"])
            assert secret.parent == ROOT / "ops/alertmanager/secrets"
    ignored = subprocess.run(["git", "check-ignore", "-q", "ops/alertmanager/secrets/x"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "webhook secrets would be committed"


def test_grafana_provisions_the_prometheus_datasource_its_dashboards_use():
    grafana = compose()["services"]["grafana"]
    datasources = load_yaml("ops/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    (provider,) = load_yaml("ops/grafana/provisioning/dashboards/commerce.yml")["providers"]
    dashboards = sorted(container_path_in_repo(grafana, provider["options"]["path"]).glob("*.json"))
    uids = {source["uid"] for source in datasources}

    assert {urlsplit(source["url"]).hostname for source in datasources} <= set(compose()["services"])
    assert container_path_in_repo(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml").is_file()
    assert dashboards, "no dashboard provisioned"
    for dashboard in dashboards:
        assert {panel["datasource"]["uid"] for panel in json.loads(dashboard.read_text())["panels"]} <= uids


# --- documentation ----------------------------------------------------------------------------------------------


def test_env_example_lists_exactly_the_variables_the_settings_read():
    listed = set(env_example_entries())
    read_by_settings = settings_env_reads()

    assert {"DATABASE_URL", "DJANGO_SECURE_SSL_REDIRECT", "BACKUP_S3_BUCKET"} <= read_by_settings  # the reader works
    assert sorted(read_by_settings - listed) == [], "read by config/settings but missing from .env.example"
    assert sorted(listed - read_by_settings) == [], "in .env.example but not read by config/settings"


def test_env_example_documents_each_variable_and_changes_nothing_when_copied():
    for name, comments in env_example_entries().items():
        assert [line for line in comments if line.startswith("# Default: ")], f"{name} has no 'Default:' line"
        assert len(comments) >= 2, f"{name} has no description"
    assert [line for line in read(".env.example").splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", line)] == []


def test_ops_paths_named_in_the_docs_and_deploy_files_exist():
    named = set()
    for document in ("README.md", "ops/README.md", "Dockerfile", "docker-compose.yml", "Makefile", ".ci/run"):
        named |= {match.rstrip(".,)`") for match in re.findall(r"(?<![\w/])ops/[\w./-]+", read(document))}
    missing = [path for path in sorted(named) if not (ROOT / path).exists() and "/secrets/" not in path]

    assert missing == []
