"""Run real parallel transactions in PostgreSQL tests: each worker in its own thread and database connection,
all released at once by a barrier. Shared by the concurrency tests of every app (``tests/<app>/test_*concurrency*``).
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from commerce.core.errors import DomainError

LOCK_TIMEOUT = "30s"  # generous for a loaded CI machine; PostgreSQL reports a deadlock after deadlock_timeout (1 s)
JOIN_SECONDS = 90


def run_together(workers: list[Callable[[], Any]]) -> list[dict[str, Any]]:
    """Run every worker in its own thread and connection, all released at once; ``[{"value"} | {"error"}]``.

    A worker still running after ``JOIN_SECONDS`` fails the test (something waits on a lock for ever).
    """
    barrier = threading.Barrier(len(workers))
    results: list[dict[str, Any]] = [{} for _ in workers]

    def run(index: int, worker: Callable[[], Any]) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            barrier.wait(JOIN_SECONDS)
            results[index]["value"] = worker()
        except Exception as exc:  # handed to the test thread
            results[index]["error"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, worker)) for i, worker in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    assert [thread.name for thread in threads if thread.is_alive()] == []
    return results


def error_codes(results: list[dict[str, Any]]) -> Counter[str]:
    """How the workers ended: ``"ok"`` or the code of the domain error. Anything else fails the test."""
    outcomes: Counter[str] = Counter()
    for result in results:
        if "error" not in result:
            outcomes["ok"] += 1
            continue
        error = result["error"]
        if not isinstance(error, DomainError):
            raise AssertionError(f"a worker failed with {type(error).__name__}: {error}") from error
        outcomes[error.code] += 1
    return outcomes


def in_thread(target: Callable[..., Any], *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``target(*args)`` in a thread with its own database connection; returns the thread and its result
    dict (``{"value"}`` or ``{"error"}`` once it ends). For tests that choreograph the threads themselves (one
    holds a lock while another runs); a plain race is :func:`run_together`."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = target(*args)
        except Exception as exc:  # handed to the test thread
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result
