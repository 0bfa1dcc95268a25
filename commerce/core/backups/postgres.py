"""PostgreSQL: ``pg_dump``/``pg_restore`` and the few SQL statements backups need.

Credentials go to the client programs as libpq environment variables (``PGPASSWORD`` and friends) built
from ``DATABASES``, never on the command line, where other users of the machine could read them in the
process list. The PostgreSQL client must be the server's major version or newer.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from .errors import BackupError
from .manifest import DatabaseState, read_state

ENGINE = "postgresql"
EXTENSION = "dump"
# Names that reach pg_restore --dbname: no "=" or "://", which libpq would read as a connection string.
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
# libpq parameter -> environment variable, for what DATABASES["default"]["OPTIONS"] may carry.
_LIBPQ_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def check_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise BackupError(f"{name!r} is not a database name this tool uses (letters, digits, _ $ -; max 63)")
    return name


def libpq_params(db: dict[str, Any], name: str) -> dict[str, str]:
    options = db.get("OPTIONS") or {}
    params = {"host": db.get("HOST"), "port": db.get("PORT"), "user": db.get("USER"), "password": db.get("PASSWORD")}
    params.update({key: options[key] for key in _LIBPQ_ENV if key in options})
    params["dbname"] = name
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def client_env(db: dict[str, Any], name: str) -> dict[str, str]:
    """The process environment with the settings' connection parameters on top: what the settings leave
    out (PGSSLMODE, PGPASSFILE, ...) comes from the environment, exactly as for Django's own connection."""
    return {**os.environ, **{_LIBPQ_ENV[key]: value for key, value in libpq_params(db, name).items()}}


def run_client(program: str, args: list[str], db: dict[str, Any], name: str) -> None:
    if shutil.which(program) is None:
        raise BackupError(f"{program} not found: install the PostgreSQL client (postgresql-client)")
    result = subprocess.run(  # noqa: S603 - fixed program, arguments built here, credentials in the environment
        [program, *args], env=client_env(db, name), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{program} failed (exit {result.returncode}): {result.stderr.strip()}")


def connect(db: dict[str, Any], name: str, **kwargs: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(make_conninfo("", **libpq_params(db, name)), **kwargs)
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to database {name!r}: {exc}") from exc


def _state(cursor: Any) -> DatabaseState:
    cursor.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%'"
    )
    tables = []
    for schema, table in cursor.fetchall():
        key = table if schema == "public" else f"{schema}.{table}"
        quoted = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(cursor.connection)
        tables.append((key, quoted))
    has_migrations = ("django_migrations", '"public"."django_migrations"') in tables
    return read_state(cursor, tables, '"public"."django_migrations"' if has_migrations else None)


def dump(db: dict[str, Any], path: Path) -> DatabaseState:
    """``pg_dump --format=custom`` into ``path``; returns the row counts and migrations *of the dump*.

    The counts are read in a repeatable-read transaction whose snapshot pg_dump is told to use
    (``--snapshot``), so they describe exactly the data in the file even while the site keeps writing."""
    name = db["NAME"]
    with connect(db, name) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            snapshot = cursor.execute("SELECT pg_export_snapshot()").fetchone()
            if snapshot is None:
                raise BackupError("PostgreSQL exported no snapshot")
            state = _state(cursor)
            run_client("pg_dump", ["--format=custom", f"--snapshot={snapshot[0]}", f"--file={path}"], db, name)
        conn.rollback()
    return state


def _admin(db: dict[str, Any], avoid: str) -> psycopg.Connection:
    """An autocommit connection for CREATE/DROP DATABASE: the ``postgres`` database, else the configured one."""
    candidates = [name for name in dict.fromkeys(["postgres", db["NAME"]]) if name != avoid]
    error: BackupError | None = None
    for candidate in candidates:
        try:
            return connect(db, candidate, autocommit=True)
        except BackupError as exc:
            error = exc
    raise error or BackupError("no maintenance database to connect to")


def target_status(db: dict[str, Any], name: str) -> str:
    """``missing``, ``empty`` (exists without tables) or ``has tables``."""
    with _admin(db, avoid=name) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        return "missing"
    return "has tables" if read_live_state(db, name).tables else "empty"


def read_live_state(db: dict[str, Any], name: str) -> DatabaseState:
    with connect(db, name) as conn, conn.cursor() as cursor:
        return _state(cursor)


def create_database(db: dict[str, Any], name: str) -> None:
    with _admin(db, avoid=name) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(check_name(name))))


def drop_database(db: dict[str, Any], name: str) -> None:
    with _admin(db, avoid=name) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def restore(db: dict[str, Any], archive: Path, name: str, *, existing: bool) -> None:
    """Restore into ``name``, in one transaction (a failed restore changes nothing). Into an existing
    database the objects in the archive are dropped first; objects the archive does not have are left.
    Ownership and grants are not restored: the objects belong to the restoring user."""
    args = ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", f"--dbname={check_name(name)}"]
    if existing:
        args = ["--clean", "--if-exists", *args]
    run_client("pg_restore", [*args, str(archive)], db, name)


@contextmanager
def scratch_database(db: dict[str, Any]) -> Iterator[str]:
    """A new empty database ``<name>_verify_<random>``, dropped on the way out, also after an error."""
    suffix = f"_verify_{secrets.token_hex(4)}"
    name = f"{db['NAME'][: 63 - len(suffix)]}{suffix}"
    create_database(db, name)
    try:
        yield name
    finally:
        drop_database(db, name)
