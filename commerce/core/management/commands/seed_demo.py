"""``manage.py seed_demo``: demo data for every app, idempotent (a second run changes nothing).

Each app owns its demo data in a ``demo.py`` module with a ``seed(*, stdout) -> None`` function. They run in
``INSTALLED_APPS`` order, which follows the layers (accounts before catalog before offers ...), inside one
transaction per app so a failure leaves no half-seeded app behind.
"""

from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule


class Command(BaseCommand):
    help = "Create demo data (admin user, catalog, offers, ...). Safe to run repeatedly."

    def handle(self, *args: Any, **options: Any) -> None:
        for config in apps.get_app_configs():
            if not module_has_submodule(config.module, "demo"):
                continue
            module = import_module(f"{config.name}.demo")
            with transaction.atomic():
                module.seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
