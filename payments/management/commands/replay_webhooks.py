"""``manage.py replay_webhooks``: reprocess stored webhooks by provider, status and receipt time.

Decision: rows are processed **inline**, one transaction per row, so the operator sees each outcome at once and
the command works with the workers down (``--queue`` publishes the tasks instead, for large replays). ``failed``
rows go back to ``received`` with a fresh set of attempts; applying is idempotent, so replaying rows that were
``processed`` changes nothing already applied. Details: :func:`payments.services.webhooks.webhooks_replay`.
"""

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from commerce.core.errors import DomainError
from payments.models import Provider, WebhookStatus
from payments.services.webhooks import webhooks_replay


def _moment(value: str) -> datetime:
    """An ISO date (midnight, current time zone) or date-time (naive means the current time zone)."""
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(value)
        parsed = datetime(day.year, day.month, day.day)
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class Command(BaseCommand):
    help = (
        "Reprocess stored webhooks matching --provider, --status (default failed) and the receipt time range "
        "[--since, --until). Prints one line per outcome; --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", choices=Provider.values, help="only this provider's webhooks")
        parser.add_argument(
            "--status",
            action="append",
            choices=WebhookStatus.values,
            help="statuses to replay, repeatable (default: failed)",
        )
        parser.add_argument("--since", help="received at or after this ISO date or date-time")
        parser.add_argument("--until", help="received before this ISO date or date-time")
        parser.add_argument("--limit", type=int, help="at most this many rows, oldest first")
        parser.add_argument("--queue", action="store_true", help="publish to the webhooks queue instead of inline")
        parser.add_argument("--dry-run", action="store_true", help="count the matching rows and change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = _moment(options["since"]) if options["since"] else None
            until = _moment(options["until"]) if options["until"] else None
        except ValueError as exc:
            raise CommandError(f"Not an ISO date or date-time: {exc}") from exc
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            result = webhooks_replay(
                provider=options["provider"],
                statuses=options["status"] or [WebhookStatus.FAILED],
                since=since,
                until=until,
                inline=not options["queue"],
                dry_run=options["dry_run"],
                limit=options["limit"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        if options["dry_run"]:
            self.stdout.write(f"{result.matched} webhooks match (dry run: nothing changed)")
            return
        self.stdout.write(f"{result.reprocessed} webhooks reprocessed")
        for status, count in sorted(result.statuses.items()):
            self.stdout.write(f"{status}: {count}")
