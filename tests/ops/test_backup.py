"""Backups: ``manage.py backup``, ``restore``, ``backup_verify`` and ``migrate_safe`` and their services.

SQLite tests use their own database files and storages, so they run in both the embedded and the full-stack
suite; PostgreSQL tests create their own databases on the configured server. Time is always frozen.
"""

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from io import StringIO
from pathlib import Path
from unittest.mock import patch

import pytest
import time_machine
from django.conf import settings
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from commerce.core.backups import (
    BackupError,
    backup_create,
    backup_restore,
    backup_verify,
    backups_list,
    postgres,
)
from commerce.core.backups import sqlite as sqlite_engine
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 3, 1, 2, 15, tzinfo=dt.UTC)


def frozen(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def make_sqlite(path: Path, *, rows: int = 2) -> dict:
    """A small Django-looking SQLite database: a ledger table and django_migrations."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount TEXT NOT NULL)")
        conn.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT)")
        conn.executemany("INSERT INTO ledger VALUES (?, ?)", [(i, f"{i}99.00") for i in range(1, rows + 1)])
        conn.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2026-01-01')",
            [("orders", "0001_initial"), ("orders", "0002_events"), ("catalog", "0001_initial")],
        )
    return {"ENGINE": "django_prometheus.db.backends.sqlite3", "NAME": str(path)}


def ledger(path: Path | str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, amount FROM ledger ORDER BY id").fetchall()


def execute(path: Path | str, statement: str) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(statement)


@pytest.fixture
def source(tmp_path) -> dict:
    return make_sqlite(tmp_path / "shop.sqlite3")


@pytest.fixture
def storage(tmp_path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "backups")


def stored_names(storage) -> list[str]:
    return sorted(storage.listdir("")[1])


# --- SQLite: backup, restore, checksum, retention ------------------------------------------------------------


def test_sqlite_backup_writes_file_checksum_and_manifest(source, storage):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)

    name = "shop-20260301T021500Z.sqlite3"
    assert result.backup.name == name
    assert stored_names(storage) == [name, f"{name}.json", f"{name}.sha256"]
    data = Path(storage.path(name)).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert Path(storage.path(f"{name}.sha256")).read_text() == f"{digest}  {name}\n"
    assert json.loads(Path(storage.path(f"{name}.json")).read_text()) == {
        "file": name,
        "database": source["NAME"],
        "engine": "sqlite",
        "created_at": "2026-03-01T02:15:00Z",
        "size": len(data),
        "sha256": digest,
        "format": 1,
        "migrations": {"catalog": ["0001_initial"], "orders": ["0001_initial", "0002_events"]},
        "tables": {"django_migrations": 3, "ledger": 2},
    }
    assert ledger(storage.path(name)) == [(1, "199.00"), (2, "299.00")]


def test_sqlite_round_trip_restores_the_rows_as_they_were(source, storage, tmp_path):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    execute(source["NAME"], "DELETE FROM ledger WHERE id = 1")
    execute(source["NAME"], "UPDATE ledger SET amount = '0.00' WHERE id = 2")

    restored = backup_restore(ref=result.backup.name, target=str(tmp_path / "new.sqlite3"), db=source, storage=storage)

    assert ledger(tmp_path / "new.sqlite3") == [(1, "199.00"), (2, "299.00")]
    assert sqlite_engine.read_file_state(tmp_path / "new.sqlite3") == result.manifest.state
    assert restored.left_in_place == []
    assert ledger(source["NAME"]) == [(2, "0.00")]


def test_restore_refuses_a_database_with_tables_unless_forced(source, storage):
    with frozen(T0):
        backup_create(db=source, storage=storage)
    execute(source["NAME"], "DELETE FROM ledger")

    with pytest.raises(BackupError, match=r"database .*shop\.sqlite3 exists and has tables; nothing was restored"):
        backup_restore(ref="latest", db=source, storage=storage)
    assert ledger(source["NAME"]) == []

    backup_restore(ref="latest", db=source, storage=storage, force=True)
    assert ledger(source["NAME"]) == [(1, "199.00"), (2, "299.00")]


def test_restore_into_an_empty_file_needs_no_force(source, storage, tmp_path):
    with frozen(T0):
        backup_create(db=source, storage=storage)
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()

    backup_restore(ref="latest", target=str(empty), db=source, storage=storage)

    assert ledger(empty) == [(1, "199.00"), (2, "299.00")]


def test_restore_refuses_a_file_whose_checksum_does_not_match(source, storage, tmp_path):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    with open(storage.path(result.backup.name), "ab") as handle:
        handle.write(b"tampered")
    target = tmp_path / "new.sqlite3"

    with pytest.raises(BackupError, match=r"checksum mismatch for shop-20260301T021500Z\.sqlite3"):
        backup_restore(ref=result.backup.name, target=str(target), db=source, storage=storage)
    with pytest.raises(BackupError, match="checksum mismatch"):
        backup_verify(ref=result.backup.name, db=source, storage=storage)
    assert not target.exists()


def test_restore_from_a_local_path_reads_the_checksum_beside_it(source, storage, tmp_path):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    (tmp_path / "backups" / f"{result.backup.name}.sha256").unlink()

    with pytest.raises(BackupError, match=r"shop-20260301T021500Z\.sqlite3\.sha256 is missing"):
        backup_restore(ref=storage.path(result.backup.name), target=str(tmp_path / "x.sqlite3"), db=source)


def test_retention_by_count_keeps_the_newest_and_never_the_new_one(source, storage):
    for day in range(4):
        with frozen(T0 + dt.timedelta(days=day)):
            backup_create(db=source, storage=storage)
    other = make_sqlite(Path(storage.location).parent / "other.sqlite3")
    with frozen(T0):
        backup_create(db=other, storage=storage)

    with frozen(T0 + dt.timedelta(days=4)):
        result = backup_create(db=source, storage=storage, keep=2)

    assert result.deleted == [
        "shop-20260301T021500Z.sqlite3",
        "shop-20260302T021500Z.sqlite3",
        "shop-20260303T021500Z.sqlite3",
    ]
    assert [b.name for b in backups_list(storage)] == [
        "other-20260301T021500Z.sqlite3",
        "shop-20260304T021500Z.sqlite3",
        "shop-20260305T021500Z.sqlite3",
    ]
    assert len(stored_names(storage)) == 9


def test_retention_by_age_deletes_only_backups_older_than_the_limit(source, storage):
    for day in (0, 5, 9):
        with frozen(T0 + dt.timedelta(days=day)):
            backup_create(db=source, storage=storage)

    with frozen(T0 + dt.timedelta(days=12, minutes=1)):
        result = backup_create(db=source, storage=storage, max_age_days=7)

    assert result.deleted == ["shop-20260301T021500Z.sqlite3", "shop-20260306T021500Z.sqlite3"]
    assert [b.name for b in backups_list(storage)] == [
        "shop-20260310T021500Z.sqlite3",
        "shop-20260313T021600Z.sqlite3",
    ]


def test_retention_never_deletes_the_backup_just_made_even_behind_a_newer_name(source, storage):
    # A backup stamped later than now (another host's fast clock, or the clock was set back) outranks the new one.
    with frozen(T0 + dt.timedelta(days=1)):
        ahead = backup_create(db=source, storage=storage)
    with frozen(T0):
        result = backup_create(db=source, storage=storage, keep=1, max_age_days=1)

    assert result.deleted == []
    assert [b.name for b in backups_list(storage)] == [result.backup.name, ahead.backup.name]


def test_a_failed_backup_stores_nothing_and_deletes_nothing(source, storage, tmp_path):
    with frozen(T0):
        backup_create(db=source, storage=storage)
    before = stored_names(storage)
    gone = tmp_path / "gone" / "shop.sqlite3"

    with frozen(T0 + dt.timedelta(days=30)), pytest.raises(BackupError, match="there is no SQLite database at"):
        backup_create(db={**source, "NAME": str(gone)}, storage=storage, keep=1)

    assert stored_names(storage) == before
    assert not gone.exists()


class ManifestRefusingStorage(InMemoryStorage):
    def _save(self, name, content):
        if name.endswith(".json"):
            raise OSError("bucket quota exceeded")
        return super()._save(name, content)


def test_a_backup_that_cannot_be_stored_completely_leaves_nothing_behind(source):
    storage = ManifestRefusingStorage()

    with frozen(T0), pytest.raises(BackupError) as error:
        backup_create(db=source, storage=storage)

    assert str(error.value) == (
        "could not store shop-20260301T021500Z.sqlite3 in ManifestRefusingStorage: bucket quota exceeded"
    )
    assert storage.listdir("") == ([], [])


# --- verification ---------------------------------------------------------------------------------------------


def test_backup_verify_passes_a_sound_backup(source, storage):
    with frozen(T0):
        backup_create(db=source, storage=storage)

    result = backup_verify(db=source, storage=storage)

    assert result.name == "shop-20260301T021500Z.sqlite3"
    assert result.differences == []


def test_backup_verify_reports_counts_and_migrations_that_differ_from_the_manifest(source, storage):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    manifest_path = Path(storage.path(f"{result.backup.name}.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["ledger"] = 99
    manifest["migrations"]["orders"].append("0003_refunds")
    manifest_path.write_text(json.dumps(manifest))

    verified = backup_verify(db=source, storage=storage)

    assert verified.differences == [
        "table ledger: 99 rows in the manifest, 2 in the restored copy",
        "migration orders.0003_refunds: in the manifest, not in the restored copy",
    ]


def test_backup_verify_command_exits_non_zero_with_the_differences(source, storage):
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    manifest_path = Path(storage.path(f"{result.backup.name}.json"))
    manifest = json.loads(manifest_path.read_text())
    del manifest["tables"]["ledger"]
    manifest_path.write_text(json.dumps(manifest))
    backups = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": storage.location},
        },
    }

    with override_settings(STORAGES=backups), pytest.raises(CommandError) as error:
        call_command("backup_verify", storage.path(result.backup.name))

    assert str(error.value) == (
        "shop-20260301T021500Z.sqlite3 does not match its manifest:\n"
        "  table ledger: not in the manifest, 2 rows in the restored copy"
    )


# --- S3 destination: any Django storage ----------------------------------------------------------------------


def test_backups_go_to_whatever_storage_is_configured_as_backups(source):
    memory = {**settings.STORAGES, "backups": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    with override_settings(STORAGES=memory):
        with frozen(T0):
            result = backup_create(db=source)
        execute(source["NAME"], "DELETE FROM ledger")
        backup_restore(ref="latest", db=source, force=True)
        from django.core.files.storage import storages

        names = sorted(storages["backups"].listdir("")[1])

    assert names == [result.backup.name, f"{result.backup.name}.json", f"{result.backup.name}.sha256"]
    assert ledger(source["NAME"]) == [(1, "199.00"), (2, "299.00")]


def test_in_memory_storage_round_trip_reads_back_through_the_storage(source, tmp_path):
    storage = InMemoryStorage()
    with frozen(T0):
        backup_create(db=source, storage=storage)

    backup_restore(ref="latest", target=str(tmp_path / "copy.sqlite3"), db=source, storage=storage)

    assert ledger(tmp_path / "copy.sqlite3") == [(1, "199.00"), (2, "299.00")]


def test_backup_s3_bucket_setting_selects_the_s3_storage():
    code = (
        "import django; django.setup(); from django.core.files.storage import storages; s = storages['backups']; "
        "print(type(s).__name__, s.bucket_name, s.location, s.endpoint_url, s.default_acl, s.file_overwrite)"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("BACKUP_")}
    env.update(
        BACKUP_S3_BUCKET="shop-backups",
        BACKUP_S3_PREFIX="nightly",
        BACKUP_S3_ENDPOINT_URL="http://minio.internal:9000",
        DJANGO_SETTINGS_MODULE="config.settings.base",
    )

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "S3Storage",
        "shop-backups",
        "nightly",
        "http://minio.internal:9000",
        "private",
        "False",
    ]


# --- PostgreSQL client programs: credentials stay off the command line ----------------------------------------


FAKE_CLIENT = """#!/bin/sh
printf '%s\\n' "$*" > "$FAKE_LOG"
env | grep '^PG' | sort >> "$FAKE_LOG"
[ -z "$FAKE_FAIL" ] || { echo "server version mismatch" >&2; exit 1; }
"""


@pytest.fixture
def fake_pg_dump(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pg_dump").write_text(FAKE_CLIENT)
    (bin_dir / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "log"))
    for name in [name for name in os.environ if name.startswith("PG")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PGPASSWORD", "stale-from-the-shell")
    monkeypatch.setenv("PGSSLROOTCERT", "/etc/ssl/db-ca.pem")
    return tmp_path / "log"


def test_pg_clients_get_credentials_from_the_environment_not_the_command_line(fake_pg_dump):
    """Settings win over the shell's PG* variables; what the settings leave out comes from the shell, as it
    does for Django's own connection."""
    db = {"HOST": "db.internal", "PORT": 5433, "USER": "shop", "PASSWORD": "s3cret", "OPTIONS": {"sslmode": "require"}}

    postgres.run_client("pg_dump", ["--format=custom", "--file=/tmp/x.dump"], db, "shop")

    assert fake_pg_dump.read_text().splitlines() == [
        "--format=custom --file=/tmp/x.dump",
        "PGDATABASE=shop",
        "PGHOST=db.internal",
        "PGPASSWORD=s3cret",
        "PGPORT=5433",
        "PGSSLMODE=require",
        "PGSSLROOTCERT=/etc/ssl/db-ca.pem",
        "PGUSER=shop",
    ]


def test_a_failing_pg_client_raises_with_its_message(fake_pg_dump, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")

    with pytest.raises(BackupError, match=r"^pg_dump failed \(exit 1\): server version mismatch$"):
        postgres.run_client("pg_dump", [], {"NAME": "shop"}, "shop")


def test_database_names_that_libpq_would_read_as_connection_strings_are_refused():
    with pytest.raises(BackupError, match="is not a database name"):
        postgres.check_name("host=evil dbname=shop")
    assert postgres.check_name("commerce_verify_1a2b") == "commerce_verify_1a2b"


# --- the commands on the configured database (SQLite or PostgreSQL) ------------------------------------------


@pytest.fixture
def backups_dir(tmp_path):
    location = tmp_path / "stored"
    backups = {
        **settings.STORAGES,
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": location}},
    }
    with override_settings(STORAGES=backups):
        yield location


def restore_target(tmp_path) -> str:
    if connection.vendor == "postgresql":
        return f"restore_check_{uuid.uuid4().hex[:10]}"
    return str(tmp_path / "restored.sqlite3")


def live_state(target: str):
    engine = postgres if connection.vendor == "postgresql" else sqlite_engine
    return engine.read_live_state(connection.settings_dict, target)


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_commands_round_trip_the_configured_database(backups_dir, tmp_path):
    UserFactory.create_batch(3)
    out, err = StringIO(), StringIO()
    with frozen(T0):
        call_command("backup", "--keep=0", stdout=out, stderr=err)
    name = out.getvalue().strip()
    UserFactory.create_batch(2)
    target = restore_target(tmp_path)
    try:
        call_command("restore", name, f"--database-name={target}", stdout=StringIO())
        restored = live_state(target)
        manifest = json.loads((backups_dir / f"{name}.json").read_text())

        assert restored.tables == manifest["tables"]
        assert restored.tables["accounts_user"] == 3
        assert restored.migrations == manifest["migrations"]
        assert restored.migrations["accounts"][0] == "0001_initial"
        with pytest.raises(CommandError, match=f"database {target} exists and has tables; nothing was restored"):
            call_command("restore", name, f"--database-name={target}")
        call_command("restore", name, f"--database-name={target}", "--force", stdout=StringIO())
        assert live_state(target).tables["accounts_user"] == 3
    finally:
        if connection.vendor == "postgresql":
            postgres.drop_database(connection.settings_dict, target)
    call_command("backup_verify", name, stdout=out)
    assert f"{name} is sound" in out.getvalue()


@pytest.fixture
def sessions_unapplied(db):
    """The sessions app migrated back to zero (a leaf nobody depends on), so there is one migration pending;
    migrated forward again afterwards whatever the test did."""
    call_command("migrate", "sessions", "zero", verbosity=0)
    yield
    call_command("migrate", "sessions", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_migrate_safe_backs_up_shows_the_plan_and_migrates(backups_dir, sessions_unapplied):
    out = StringIO()
    with frozen(T0):
        call_command("migrate_safe", "--no-input", stdout=out)

    executor = MigrationExecutor(connection)
    (backup,) = backups_list(FileSystemStorage(location=backups_dir))
    manifest = json.loads((backups_dir / f"{backup.name}.json").read_text())
    assert "Planned operations:" in out.getvalue()
    assert "sessions.0001_initial" in out.getvalue()
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert "sessions" not in manifest["migrations"]
    assert f"Backup before migrating: {backup.name}" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrate_safe_prints_the_restore_command_when_a_migration_fails(backups_dir, sessions_unapplied):
    def broken(self, state, migration, fake=False, fake_initial=False):
        raise RuntimeError(f"{migration.app_label}.{migration.name} exploded")

    err = StringIO()

    with patch.object(MigrationExecutor, "apply_migration", broken), frozen(T0), pytest.raises(CommandError) as error:
        call_command("migrate_safe", "--yes", stdout=StringIO(), stderr=err)

    (backup,) = backups_list(FileSystemStorage(location=backups_dir))
    command = f"python manage.py restore {backup.name} --force"
    assert str(error.value) == f"migration failed; to go back: {command}"
    assert "Migration failed: sessions.0001_initial exploded" in err.getvalue()
    assert f"\n    {command}\n" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrate_safe_takes_no_backup_when_nothing_is_pending(backups_dir):
    out = StringIO()

    call_command("migrate_safe", "--no-input", stdout=out)

    assert out.getvalue().endswith("Nothing to migrate; no backup taken.\n")
    assert not backups_dir.exists()


@pytest.mark.django_db(transaction=True)
def test_migrate_safe_asks_before_changing_anything_and_refuses_without_a_terminal(backups_dir, sessions_unapplied):
    with pytest.raises(CommandError, match="not a terminal: pass --no-input"):
        call_command("migrate_safe", stdout=StringIO())

    assert not backups_dir.exists()


# --- PostgreSQL: a real database created for the test --------------------------------------------------------


@pytest.fixture
def pg_scratch(db):
    """A new database on the test server with a ledger table, and a list the test can add names to; all
    of them are dropped afterwards."""
    import psycopg

    base = connection.settings_dict
    names = [f"backup_src_{uuid.uuid4().hex[:10]}"]
    postgres.create_database(base, names[0])
    with psycopg.connect(**postgres.libpq_params(base, names[0]), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL)")
        conn.execute("CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied text)")
        conn.execute("INSERT INTO ledger VALUES (1, 499.00), (2, 10.50)")
        conn.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('orders', '0001_initial', 'x')")
    yield {**base, "NAME": names[0]}, names
    for name in names:
        postgres.drop_database(base, name)


def pg_ledger(db: dict, name: str) -> list[tuple]:
    with postgres.connect(db, name) as conn:
        return conn.execute("SELECT id, amount::text FROM ledger ORDER BY id").fetchall()


def pg_execute(db: dict, statement: str) -> None:
    with postgres.connect(db, db["NAME"], autocommit=True) as conn:
        conn.execute(statement)


@pytest.mark.postgres
def test_postgres_backup_restore_into_another_database_and_verify(pg_scratch, storage):
    source, names = pg_scratch
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    pg_execute(source, "DELETE FROM ledger WHERE id = 1")
    copy = f"{source['NAME']}_copy"
    names.append(copy)

    restored = backup_restore(ref=result.backup.name, target=copy, db=source, storage=storage)

    assert result.backup.name == f"{source['NAME']}-20260301T021500Z.dump"
    assert Path(storage.path(result.backup.name)).read_bytes()[:5] == b"PGDMP"
    assert result.manifest.state.tables == {"django_migrations": 1, "ledger": 2}
    assert result.manifest.state.migrations == {"orders": ["0001_initial"]}
    assert restored.created is True
    assert pg_ledger(source, copy) == [(1, "499.00"), (2, "10.50")]
    assert backup_verify(ref=result.backup.name, db=source, storage=storage).differences == []


@pytest.mark.postgres
def test_postgres_restore_refuses_without_force_and_replaces_with_it(pg_scratch, storage):
    source, _ = pg_scratch
    with frozen(T0):
        backup_create(db=source, storage=storage)
    pg_execute(source, "UPDATE ledger SET amount = 0")
    pg_execute(source, "CREATE TABLE newer (id int)")

    with pytest.raises(BackupError, match=f"database {source['NAME']} exists and has tables"):
        backup_restore(ref="latest", db=source, storage=storage)
    assert pg_ledger(source, source["NAME"]) == [(1, "0.00"), (2, "0.00")]

    restored = backup_restore(ref="latest", db=source, storage=storage, force=True)

    assert pg_ledger(source, source["NAME"]) == [(1, "499.00"), (2, "10.50")]
    assert restored.left_in_place == ["newer"]


@pytest.mark.postgres
def test_postgres_verify_reports_a_wrong_manifest_and_drops_its_scratch_database(pg_scratch, storage):
    source, _ = pg_scratch
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    manifest_path = Path(storage.path(f"{result.backup.name}.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["ledger"] = 3
    manifest_path.write_text(json.dumps(manifest))

    verified = backup_verify(db=source, storage=storage)

    assert verified.differences == ["table ledger: 3 rows in the manifest, 2 in the restored copy"]
    with postgres.connect(source, source["NAME"]) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{source['NAME']}_verify_%"])
        assert left.fetchall() == []


@pytest.mark.postgres
def test_postgres_checksum_mismatch_is_refused_before_anything_is_created(pg_scratch, storage):
    source, names = pg_scratch
    with frozen(T0):
        result = backup_create(db=source, storage=storage)
    with open(storage.path(result.backup.name), "r+b") as handle:
        handle.seek(40)
        handle.write(b"\x00\x00\x00")
    copy = f"{source['NAME']}_copy"
    names.append(copy)

    with pytest.raises(BackupError, match="checksum mismatch"):
        backup_restore(ref=result.backup.name, target=copy, db=source, storage=storage)

    assert postgres.target_status(source, copy) == "missing"
