"""Database backups: create, restore and verify, on PostgreSQL and SQLite, into a directory or S3.

The management commands ``backup``, ``restore``, ``backup_verify`` and ``migrate_safe`` are thin wrappers
around the services in :mod:`commerce.core.backups.services`; operators' documentation is in the README
("Operations: backups") and ``ops/README.md``.

A backup is three objects side by side in the ``backups`` storage (``STORAGES["backups"]``: a directory by
default, an S3-compatible bucket when ``BACKUP_S3_BUCKET`` is set):

- ``<database>-<YYYYmmddTHHMMSSZ>.dump`` (PostgreSQL, ``pg_dump --format=custom``) or ``.sqlite3`` (a
  SQLite database file made with SQLite's online backup API);
- ``<file>.sha256``: the file's SHA-256 in ``sha256sum`` format (``sha256sum -c`` checks it);
- ``<file>.json``: the manifest: database, engine, applied Django migrations per app, row count of every
  table, creation time, size and checksum. Restores and verification compare against it.
"""

from .errors import BackupError
from .services import (
    BackupResult,
    RestoreResult,
    VerifyResult,
    backup_create,
    backup_restore,
    backup_verify,
    backups_prune,
)
from .store import StoredBackup, backup_storage, backups_list, storage_label

__all__ = [
    "BackupError",
    "BackupResult",
    "RestoreResult",
    "StoredBackup",
    "VerifyResult",
    "backup_create",
    "backup_restore",
    "backup_storage",
    "backup_verify",
    "backups_list",
    "backups_prune",
    "storage_label",
]
