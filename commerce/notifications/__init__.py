"""Email and SMS delivery: templates, backends, Celery tasks and dead letters."""
