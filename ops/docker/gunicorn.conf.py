"""Gunicorn settings for the container (the image's CMD passes ``--config`` and ``--bind 0.0.0.0:8000``).

Tuned from the environment:

- ``GUNICORN_WORKERS`` (default 3): worker processes; about 2 x CPU cores + 1 for this I/O-bound app.
- ``GUNICORN_THREADS`` (default 1): threads per worker.
- ``GUNICORN_TIMEOUT`` (default 30): seconds a request may take before its worker is killed and restarted.
- ``GUNICORN_MAX_REQUESTS`` (default 1000): a worker is recycled after this many requests (with jitter),
  which bounds slow memory growth; 0 disables recycling.

Prometheus: every worker is its own process, so django-prometheus runs in prometheus_client's multiprocess
mode. Metrics are written to ``PROMETHEUS_MULTIPROC_DIR`` (set here, for the web server only, so the Celery
containers built from the same image are unaffected) and ``/metrics`` sums them over all workers. Without
this each scrape would see one random worker's counters.
"""

import os
import shutil
import tempfile


def _positive_int(name: str, default: int, *, allow_zero: bool = False) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise SystemExit(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


workers = _positive_int("GUNICORN_WORKERS", 3)
threads = _positive_int("GUNICORN_THREADS", 1)
timeout = _positive_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5
max_requests = _positive_int("GUNICORN_MAX_REQUESTS", 1000, allow_zero=True)
max_requests_jitter = max_requests // 10

# Logs go to stdout/stderr for the container runtime to collect.
accesslog = "-"
errorlog = "-"
# The worker heartbeat file lives in memory: a disk-backed /tmp can stall workers under I/O pressure.
# gunicorn creates it there with mkstemp (private, random name), so the shared directory is safe to use.
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# The runtime control socket (gunicornc) is not used; the container orchestrator restarts and scales.
control_socket_disable = True

PROMETHEUS_MULTIPROC_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "prometheus-multiproc")
)


def on_starting(server) -> None:
    """Start each server with an empty metrics directory: files left by a previous run would be summed in."""
    shutil.rmtree(PROMETHEUS_MULTIPROC_DIR, ignore_errors=True)
    os.makedirs(PROMETHEUS_MULTIPROC_DIR, exist_ok=True)


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that exited, so they stop being reported."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, PROMETHEUS_MULTIPROC_DIR)
