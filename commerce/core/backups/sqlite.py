"""SQLite: copies made with SQLite's online backup API (``sqlite3.Connection.backup``).

The online backup reads a consistent copy while other connections keep using the database, and writes a
plain database file: a backup is itself a SQLite database that ``sqlite3`` can open.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from .errors import BackupError
from .manifest import DatabaseState, read_state

ENGINE = "sqlite"
EXTENSION = "sqlite3"


def _connect(name: str | Path) -> sqlite3.Connection:
    name = str(name)
    if name in ("", ":memory:"):
        raise BackupError("a private in-memory SQLite database cannot be backed up or restored")
    # "file:..." names are URIs: Django's in-memory test databases are shared-cache URIs.
    return sqlite3.connect(name, uri=name.startswith("file:"))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _state(conn: sqlite3.Connection) -> DatabaseState:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    tables = [(name, quote(name)) for (name,) in rows.fetchall()]
    has_migrations = any(key == "django_migrations" for key, _ in tables)
    return read_state(conn.cursor(), tables, quote("django_migrations") if has_migrations else None)


def read_file_state(path: str | Path) -> DatabaseState:
    with closing(_connect(path)) as conn:
        return _state(conn)


def read_live_state(db: dict[str, Any], name: str) -> DatabaseState:
    return read_file_state(name)


def _copy(source: str | Path, target: str | Path) -> None:
    with closing(_connect(source)) as src, closing(_connect(target)) as dst:
        src.backup(dst)


def dump(db: dict[str, Any], path: Path) -> DatabaseState:
    """Copy the database into ``path``; returns the row counts and migrations read from the copy itself."""
    name = str(db["NAME"])
    if not name.startswith("file:") and not Path(name).is_file():
        raise BackupError(f"there is no SQLite database at {name}")
    _copy(db["NAME"], path)
    return read_file_state(path)


def target_status(db: dict[str, Any], name: str) -> str:
    """``missing``, ``empty`` (a file without tables) or ``has tables``."""
    if not name.startswith("file:") and not Path(name).exists():
        return "missing"
    return "has tables" if read_file_state(name).tables else "empty"


def restore(db: dict[str, Any], archive: Path, name: str, *, existing: bool) -> None:
    """Replace the whole database file ``name`` with the backup (tables not in the backup go too)."""
    if not name.startswith("file:"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    _copy(archive, name)


def integrity_problems(path: str | Path) -> list[str]:
    with closing(_connect(path)) as conn:
        rows = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else [f"integrity_check: {row}" for row in rows]


@contextmanager
def scratch_database(db: dict[str, Any]) -> Iterator[str]:
    """A path in a new temporary directory, removed (with the file) on the way out."""
    with tempfile.TemporaryDirectory(prefix="backup-verify-") as directory:
        yield str(Path(directory) / "verify.sqlite3")
