"""``manage.py loyalty_rebuild_leaderboards``: rebuild the current week, month and all-time leaderboards in Redis
from the points ledger (atomically: built aside, then swapped in). Run it after a Redis outage or flush; the
nightly task does the same."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from loyalty.services.leaderboard import leaderboards_rebuild


class Command(BaseCommand):
    help = "Rebuild the loyalty leaderboards in Redis from the points ledger."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            self.stdout.write("REDIS_URL is not set: leaderboards are read from the database; nothing to rebuild.")
            return
        try:
            members = leaderboards_rebuild()
        except Exception as exc:
            raise CommandError(f"Rebuild failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Leaderboards rebuilt: {members} members on the all-time board."))
