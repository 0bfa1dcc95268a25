"""Periodic tasks of the offers app."""

from celery import shared_task

from .services import offer_events_flush


@shared_task(name="commerce.offers.tasks.flush_offer_events", ignore_result=True)
def flush_offer_events() -> dict[str, int]:
    """Write buffered offer views and clicks from Redis to the database (beat runs it every 10 seconds).

    Idempotent and safe to overlap: each buffered batch is applied once (see ``commerce.offers.buffer``). While
    Redis is unreachable it applies nothing and succeeds (logged once a minute): the events wait in Redis."""
    result = offer_events_flush()
    return {"batches": result.batches, "views": result.views, "clicks": result.clicks}
