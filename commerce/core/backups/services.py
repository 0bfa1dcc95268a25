"""Backup services: ``backup_create``, ``backup_restore``, ``backup_verify`` and ``backups_prune``.

``db`` is a ``DATABASES`` entry (default: the ``default`` connection's settings) and ``storage`` a Django
storage (default: ``STORAGES["backups"]``), so tests and scripts can point them elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from django.core.files.storage import Storage
from django.db import connections
from django.utils import timezone

from . import postgres, sqlite
from .errors import BackupError
from .manifest import Manifest, checksum_line, parse_checksum_line, sha256_file, state_diff
from .store import (
    StoredBackup,
    backup_name,
    backup_storage,
    backups_list,
    download,
    parse_backup_name,
    read_text,
    storage_label,
    upload,
    upload_text,
)

ENGINES: dict[str, ModuleType] = {postgres.ENGINE: postgres, sqlite.ENGINE: sqlite}


def _default_db() -> dict[str, Any]:
    return connections["default"].settings_dict


def _engine(db: dict[str, Any]) -> ModuleType:
    engine = db["ENGINE"]
    if engine.endswith("postgresql"):
        return postgres
    if engine.endswith("sqlite3"):
        return sqlite
    raise BackupError(f"backups support PostgreSQL and SQLite databases, not {engine}")


def database_label(db: dict[str, Any]) -> str:
    """The database's part of backup file names: the PostgreSQL name, or the SQLite file's stem."""
    name = str(db["NAME"])
    if _engine(db) is sqlite:
        name = name[5:].split("?")[0] if name.startswith("file:") else Path(name).stem
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "database"


# --- create and prune ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    backup: StoredBackup
    manifest: Manifest
    location: str
    deleted: list[str] = field(default_factory=list)


def backup_create(
    *, db: dict[str, Any] | None = None, storage: Storage | None = None, keep: int = 0, max_age_days: int = 0
) -> BackupResult:
    """Back up the database into the storage (file, ``.sha256``, ``.json`` manifest, written in that order
    so a manifest means a complete backup), then apply retention (``keep``/``max_age_days``; 0 = off).

    The dump is made in a local temporary directory first (``TMPDIR``), then copied to the storage; on any
    failure nothing half-written stays in the storage and no older backup is deleted."""
    db = db or _default_db()
    storage = storage or backup_storage()
    engine = _engine(db)
    _check_retention(keep, max_age_days)
    created_at = timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    name = backup_name(database_label(db), created_at, engine.EXTENSION)
    backup = parse_backup_name(name)
    if backup is None:
        raise BackupError(f"cannot build a backup name from the database name {db['NAME']!r}")
    if any(storage.exists(stored) for stored in backup.names):
        raise BackupError(f"{storage_label(storage)} already holds a backup named {name}; try again in a second")

    with tempfile.TemporaryDirectory(prefix="backup-") as scratch:
        path = Path(scratch) / name
        state = engine.dump(db, path)
        sha256 = sha256_file(path)
        manifest = Manifest(
            file=name,
            database=str(db["NAME"]),
            engine=engine.ENGINE,
            created_at=created_at.isoformat().replace("+00:00", "Z"),
            size=path.stat().st_size,
            sha256=sha256,
            state=state,
        )
        stored: list[str] = []
        try:
            upload(storage, name, path)
            stored.append(name)
            upload_text(storage, backup.checksum_name, checksum_line(sha256, name), Path(scratch))
            stored.append(backup.checksum_name)
            upload_text(storage, backup.manifest_name, manifest.to_json(), Path(scratch))
        except Exception as exc:
            _delete_quietly(storage, stored)
            if isinstance(exc, BackupError):
                raise
            raise BackupError(f"could not store {name} in {storage_label(storage)}: {exc}") from exc

    deleted = backups_prune(
        storage=storage, database=backup.database, keep=keep, max_age_days=max_age_days, protect=name
    )
    return BackupResult(backup=backup, manifest=manifest, location=storage_label(storage), deleted=deleted)


def _check_retention(keep: int, max_age_days: int) -> None:
    if keep < 0 or max_age_days < 0:
        raise BackupError(f"--keep and --max-age-days must be 0 (off) or more, got {keep} and {max_age_days}")


def _delete_quietly(storage: Storage, names: list[str]) -> None:
    for name in names:
        try:
            if storage.exists(name):
                storage.delete(name)
        except Exception:  # noqa: S110 - best effort cleanup; the original error is what the operator needs
            pass


def backups_prune(*, storage: Storage, database: str, keep: int, max_age_days: int, protect: str) -> list[str]:
    """Delete backups of ``database`` beyond the newest ``keep`` or older than ``max_age_days`` (by the
    time in their names; 0 turns a rule off), never ``protect`` (the backup just made). Returns the names
    deleted, oldest first. Backups of other databases in the same storage are never touched."""
    _check_retention(keep, max_age_days)
    now = timezone.now()
    newest_first = list(reversed(backups_list(storage, database)))
    doomed = [
        backup
        for position, backup in enumerate(newest_first)
        if backup.name != protect
        and (
            (keep and position >= keep) or (max_age_days and now - backup.created_at > dt.timedelta(days=max_age_days))
        )
    ]
    for backup in doomed:
        for name in backup.names:
            if storage.exists(name):
                storage.delete(name)
    return [backup.name for backup in reversed(doomed)]


# --- fetch: the backup file as a local path, checksum verified -----------------------------------------------


@dataclass(frozen=True)
class FetchedBackup:
    name: str
    path: Path
    manifest: Manifest


@contextmanager
def _fetched(ref: str | None, storage: Storage, database: str) -> Iterator[FetchedBackup]:
    """The backup ``ref``: ``None``/``latest`` (the newest of ``database`` in the storage), a bare file name
    in the storage, or a local path (anything with a ``/``) with its ``.sha256`` and ``.json`` beside it.
    The checksum is verified before anything uses the file."""
    with tempfile.TemporaryDirectory(prefix="backup-") as scratch:
        if ref in (None, "", "latest"):
            found = backups_list(storage, database)
            if not found:
                raise BackupError(f"no backups of {database} in {storage_label(storage)}")
            ref = found[-1].name
        if "/" in ref:
            path = Path(ref)
            if not path.is_file():
                raise BackupError(f"no such backup file: {ref}")
            checksum_text = _local_text(Path(f"{ref}.sha256"))
            manifest_text = _local_text(Path(f"{ref}.json"))
        else:
            if not storage.exists(ref):
                raise BackupError(f"no backup named {ref} in {storage_label(storage)}")
            checksum_text = read_text(storage, f"{ref}.sha256")
            manifest_text = read_text(storage, f"{ref}.json")
            path = Path(scratch) / ref
            download(storage, ref, path)
        manifest = Manifest.from_json(manifest_text, source=f"{ref}.json")
        _verify_checksum(path, parse_checksum_line(checksum_text, source=f"{ref}.sha256"), manifest, ref)
        yield FetchedBackup(name=Path(ref).name, path=path, manifest=manifest)


def _local_text(path: Path) -> str:
    if not path.is_file():
        raise BackupError(f"{path} is missing")
    return path.read_text()


def _verify_checksum(path: Path, expected: str, manifest: Manifest, ref: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise BackupError(
            f"checksum mismatch for {ref}: {ref}.sha256 says {expected}, the file hashes to {actual}. "
            "The file is damaged or was changed; nothing was restored."
        )
    if manifest.sha256 != expected:
        raise BackupError(f"{ref}.json and {ref}.sha256 name different checksums; nothing was restored")


# --- restore --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    name: str
    target: str
    created: bool
    manifest: Manifest
    left_in_place: list[str]


def backup_restore(
    *,
    ref: str | None,
    target: str | None = None,
    force: bool = False,
    db: dict[str, Any] | None = None,
    storage: Storage | None = None,
) -> RestoreResult:
    """Restore a backup into ``target`` (a PostgreSQL database name or a SQLite file path; default: the
    configured database), after verifying its checksum. A target that exists and has tables is only
    overwritten with ``force``; a missing PostgreSQL database is created first (and dropped again if the
    restore fails). ``left_in_place`` lists tables the target has that the backup has not (PostgreSQL
    restores replace the backup's objects only)."""
    db = db or _default_db()
    storage = storage or backup_storage()
    engine = _engine(db)
    target = target or str(db["NAME"])
    with _fetched(ref, storage, database_label(db)) as backup:
        if backup.manifest.engine != engine.ENGINE:
            raise BackupError(f"{backup.name} is a {backup.manifest.engine} backup; this database is {engine.ENGINE}")
        status = engine.target_status(db, target)
        if status == "has tables" and not force:
            raise BackupError(
                f"database {target} exists and has tables; nothing was restored. Pass --force to replace its "
                f"contents with {backup.name} (stop web, worker and beat first)."
            )
        created = status == "missing" and engine is postgres
        if created:
            postgres.create_database(db, target)
        if target == str(connections["default"].settings_dict["NAME"]):
            # pg_restore --clean waits for this process's own open connection otherwise.
            connections.close_all()
        try:
            engine.restore(db, backup.path, target, existing=status != "missing")
        except BackupError:
            if created:
                postgres.drop_database(db, target)
            raise
        restored = engine.read_live_state(db, target)
    left = sorted(restored.tables.keys() - backup.manifest.state.tables.keys())
    return RestoreResult(name=backup.name, target=target, created=created, manifest=backup.manifest, left_in_place=left)


# --- verify ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    name: str
    manifest: Manifest
    differences: list[str]
    not_yet_applied: list[str]


def backup_verify(
    *, ref: str | None = None, db: dict[str, Any] | None = None, storage: Storage | None = None
) -> VerifyResult:
    """Restore a backup into a scratch database (PostgreSQL: ``<name>_verify_<random>`` on the configured
    server; SQLite: a temporary file), dropped afterwards even on failure, and compare its row counts and
    applied migrations with the manifest. ``differences`` is empty when the backup is sound;
    ``not_yet_applied`` lists migrations in the code that the backup predates (``migrate`` would apply them
    after a restore) and is information, not an error."""
    db = db or _default_db()
    storage = storage or backup_storage()
    with _fetched(ref, storage, database_label(db)) as backup:
        engine = ENGINES.get(backup.manifest.engine)
        if engine is None or (engine is postgres and _engine(db) is not postgres):
            raise BackupError(
                f"{backup.name} is a {backup.manifest.engine} backup; verifying it needs a configured "
                f"{backup.manifest.engine} database server"
            )
        with engine.scratch_database(db) as scratch:
            engine.restore(db, backup.path, scratch, existing=False)
            restored = engine.read_live_state(db, scratch)
            problems = sqlite.integrity_problems(scratch) if engine is sqlite else []
    differences = problems + state_diff(
        backup.manifest.state, restored, expected_label="the manifest", actual_label="the restored copy"
    )
    return VerifyResult(
        name=backup.name,
        manifest=backup.manifest,
        differences=differences,
        not_yet_applied=_not_yet_applied(backup.manifest),
    )


def _not_yet_applied(manifest: Manifest) -> list[str]:
    from django.db.migrations.loader import MigrationLoader

    applied = {(app, name) for app, names in manifest.state.migrations.items() for name in names}
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return [f"{app}.{name}" for (app, name) in sorted(graph.nodes) if (app, name) not in applied]
