"""Where backups live: the ``backups`` storage, backup file names, listing, upload and download.

Everything goes through a Django storage object (``STORAGES["backups"]``), so the same code writes to a
directory (``FileSystemStorage``) or an S3-compatible bucket (``storages.backends.s3.S3Storage``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from .errors import BackupError

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EXTENSIONS = ("dump", "sqlite3")
_NAME = re.compile(r"^(?P<database>[A-Za-z0-9._-]+)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>dump|sqlite3)$")


def backup_storage() -> Storage:
    return storages["backups"]


def storage_label(storage: Storage) -> str:
    """Where a storage writes, for messages: a directory, or ``s3://bucket/prefix``."""
    if bucket := getattr(storage, "bucket_name", None):
        return f"s3://{bucket}/{getattr(storage, 'location', '')}".rstrip("/")
    if isinstance(storage, FileSystemStorage):
        return str(storage.location)
    return type(storage).__name__


@dataclass(frozen=True)
class StoredBackup:
    """A backup file in the storage; its checksum and manifest are ``<name>.sha256`` and ``<name>.json``."""

    name: str
    database: str
    created_at: dt.datetime

    @property
    def checksum_name(self) -> str:
        return f"{self.name}.sha256"

    @property
    def manifest_name(self) -> str:
        return f"{self.name}.json"

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.name, self.checksum_name, self.manifest_name)


def backup_name(database: str, created_at: dt.datetime, extension: str) -> str:
    return f"{database}-{created_at.astimezone(dt.UTC).strftime(STAMP_FORMAT)}.{extension}"


def parse_backup_name(name: str) -> StoredBackup | None:
    match = _NAME.match(name)
    if not match:
        return None
    created_at = dt.datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=dt.UTC)
    return StoredBackup(name=name, database=match["database"], created_at=created_at)


def backups_list(storage: Storage, database: str | None = None) -> list[StoredBackup]:
    """Backups in the storage's top level, oldest first; only those of ``database`` when given."""
    try:
        _, files = storage.listdir("")
    except FileNotFoundError:
        return []
    found = [backup for name in files if (backup := parse_backup_name(name))]
    if database is not None:
        found = [backup for backup in found if backup.database == database]
    return sorted(found, key=lambda backup: (backup.created_at, backup.name))


def upload(storage: Storage, name: str, path: Path) -> None:
    """Store the local file ``path`` as ``name``; never under another name (storages may rename on clash)."""
    with path.open("rb") as handle:
        saved = storage.save(name, File(handle, name=name))
    if saved != name:
        storage.delete(saved)
        raise BackupError(f"{storage_label(storage)} already holds {name}; nothing was overwritten")


def upload_text(storage: Storage, name: str, text: str, scratch: Path) -> None:
    path = scratch / Path(name).name
    path.write_text(text)
    upload(storage, name, path)


def download(storage: Storage, name: str, path: Path) -> None:
    with storage.open(name, "rb") as source, path.open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)


def read_text(storage: Storage, name: str) -> str:
    if not storage.exists(name):
        raise BackupError(f"{name} is missing from {storage_label(storage)}")
    with storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data.decode()
