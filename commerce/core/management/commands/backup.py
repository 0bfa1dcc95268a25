"""``manage.py backup``: back up the database into the backups storage, then apply retention.

PostgreSQL: ``pg_dump --format=custom``; SQLite: SQLite's online backup API. Destination: ``BACKUP_DIR``
or the S3 bucket ``BACKUP_S3_BUCKET`` (``STORAGES["backups"]``). Details: ``commerce.core.backups``.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commerce.core.backups import BackupError, backup_create, backup_storage, backups_list, storage_label


class Command(BaseCommand):
    help = (
        "Back up the database (file, .sha256 and .json manifest) into BACKUP_DIR or the BACKUP_S3_BUCKET bucket, "
        "then delete backups beyond --keep or older than --max-age-days. Prints the new backup's name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep",
            type=int,
            default=settings.BACKUP_KEEP,
            help="keep this many newest backups of this database, 0 = no limit (default: BACKUP_KEEP, %(default)s)",
        )
        parser.add_argument(
            "--max-age-days",
            type=int,
            default=settings.BACKUP_MAX_AGE_DAYS,
            help="delete backups older than this many days, 0 = never (default: BACKUP_MAX_AGE_DAYS, %(default)s)",
        )
        parser.add_argument("--list", action="store_true", help="list the stored backups instead, oldest first")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            self._list()
            return
        try:
            result = backup_create(keep=options["keep"], max_age_days=options["max_age_days"])
        except BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        manifest = result.manifest
        self.stderr.write(
            f"Backed up {manifest.database} ({manifest.engine}, {len(manifest.state.tables)} tables, "
            f"{manifest.size} bytes, sha256 {manifest.sha256}) to {result.location}"
        )
        for name in result.deleted:
            self.stderr.write(f"Deleted old backup {name}")
        # The name alone on stdout, for scripts: manage.py restore <name>.
        self.stdout.write(result.backup.name)

    def _list(self) -> None:
        storage = backup_storage()
        found = backups_list(storage)
        if not found:
            self.stderr.write(f"No backups in {storage_label(storage)}")
        for backup in found:
            self.stdout.write(f"{backup.name}\t{storage.size(backup.name)}")
