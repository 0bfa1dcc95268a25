"""``manage.py backup_verify [<backup>]``: prove a backup restores and holds what its manifest says."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commerce.core.backups import BackupError, backup_verify


class Command(BaseCommand):
    help = (
        "Restore a backup (default: the newest) into a scratch database that is dropped afterwards, and compare "
        "its table row counts and applied migrations with the manifest. Exits non-zero with the differences."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", nargs="?", default="latest", help="backup name or local path (default: latest)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_verify(ref=options["backup"])
        except BackupError as exc:
            raise CommandError(f"verification failed: {exc}") from exc
        if result.differences:
            raise CommandError(f"{result.name} does not match its manifest:\n  " + "\n  ".join(result.differences))
        manifest = result.manifest
        rows = sum(manifest.state.tables.values())
        self.stdout.write(
            f"{result.name} is sound: checksum, {len(manifest.state.tables)} tables, {rows} rows and "
            f"{sum(len(names) for names in manifest.state.migrations.values())} applied migrations match the manifest"
        )
        if result.not_yet_applied:
            self.stdout.write(
                f"After restoring it, migrate would apply {len(result.not_yet_applied)} newer migrations: "
                + ", ".join(result.not_yet_applied)
            )
