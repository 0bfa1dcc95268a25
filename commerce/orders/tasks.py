"""Periodic and on-demand order jobs: thin, idempotent tasks that call a service (scheduled in
``CELERY_BEAT_SCHEDULE``)."""
