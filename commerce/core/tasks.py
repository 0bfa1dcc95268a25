"""Operational tasks of the shared kernel."""

import socket

from celery import shared_task


@shared_task(name="commerce.core.tasks.worker_ping")  # type: ignore[untyped-decorator]
def worker_ping(token: str) -> dict[str, str]:
    """Echo ``token`` with the worker's host name: proves a worker consumes the queue and results come back.

    ``celery -A config call commerce.core.tasks.worker_ping --args='["hello"]'`` from an operator's shell."""
    return {"token": token, "hostname": socket.gethostname()}
