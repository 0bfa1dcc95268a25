"""``manage.py restore <backup>``: restore a backup made by ``manage.py backup``, checksum verified first."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commerce.core.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup (a name in the backups storage, 'latest', or a local path containing '/') into the "
        "configured database or --database-name. Refuses to overwrite a database that has tables without --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="backup file name in BACKUP_DIR / the bucket, 'latest', or a local path")
        parser.add_argument(
            "--database-name",
            help="PostgreSQL: database to restore into (created when missing); SQLite: target file path. "
            "Default: the configured database.",
        )
        parser.add_argument(
            "--force", action="store_true", help="replace the contents of a target database that has tables"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_restore(ref=options["backup"], target=options["database_name"], force=options["force"])
        except BackupError as exc:
            raise CommandError(f"restore failed: {exc}") from exc
        how = "into the new database" if result.created else "into"
        self.stdout.write(f"Restored {result.name} (taken {result.manifest.created_at}) {how} {result.target}")
        if result.left_in_place:
            self.stderr.write(
                "Tables not in the backup were left in place: " + ", ".join(result.left_in_place) + ". "
                "For an exact copy restore into a new database name."
            )
        self.stdout.write("Next: python manage.py migrate (applies migrations newer than the backup)")
