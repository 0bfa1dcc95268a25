"""``manage.py migrate_safe``: back up, show the plan, migrate; on failure, say exactly how to go back."""

import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from commerce.core.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Apply all pending migrations safely: show the plan (migrate --plan), ask for confirmation on a "
        "terminal, take a backup, migrate, and on failure print the restore command for that backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-input",
            "--noinput",
            "--yes",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation (needed when not run from a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        call_command("migrate", plan=True, stdout=self.stdout, no_color=options.get("no_color", False))
        if not pending:
            self.stdout.write("Nothing to migrate; no backup taken.")
            return
        if options["interactive"]:
            self._confirm(len(pending))

        try:
            backup = backup_create()
        except BackupError as exc:
            raise CommandError(f"backup failed, nothing was migrated: {exc}") from exc
        self.stdout.write(f"Backup before migrating: {backup.backup.name} in {backup.location}")

        try:
            call_command("migrate", interactive=False, stdout=self.stdout, stderr=self.stderr)
        except Exception as exc:
            self.stderr.write(
                f"\nMigration failed: {exc}\n"
                "The database may be partly migrated. To put it back as it was before this run, stop web, worker "
                "and beat, deploy the previous release's code, and run:\n\n"
                f"    python manage.py restore {backup.backup.name} --force\n"
            )
            restore = f"python manage.py restore {backup.backup.name} --force"
            raise CommandError(f"migration failed; to go back: {restore}") from exc
        self.stdout.write(self.style.SUCCESS(f"Migrated. The backup {backup.backup.name} is kept."))

    def _confirm(self, count: int) -> None:
        if not sys.stdin.isatty():
            raise CommandError("not a terminal: pass --no-input (or --yes) to migrate without confirmation")
        answer = input(f"Back up the database and apply {count} migration(s)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise CommandError("cancelled; nothing was changed")
