"""The Celery application. Settings come from Django settings under the ``CELERY_`` namespace.

Queues: ``default``, ``notifications`` (email/SMS) and ``webhooks`` (payment provider events); routing is
``CELERY_TASK_ROUTES`` in settings. Start a worker with ``make worker`` and the scheduler with ``make beat``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("commerce")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
