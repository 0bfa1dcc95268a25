"""What a backup holds (tables and their row counts, applied migrations) and the manifest stored beside it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import BackupError

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class DatabaseState:
    """Row count per table and applied Django migrations (``django_migrations``) per app, sorted."""

    tables: dict[str, int] = field(default_factory=dict)
    migrations: dict[str, list[str]] = field(default_factory=dict)


def read_state(cursor: Any, tables: Iterable[tuple[str, str]], migrations_table: str | None) -> DatabaseState:
    """Count the rows of ``tables`` (pairs of manifest key and quoted SQL name) and read the applied
    migrations from ``migrations_table`` (a quoted name, or None when the database has none), with a DB-API
    cursor of either engine."""
    counts: dict[str, int] = {}
    for key, quoted in sorted(tables):
        cursor.execute(f"SELECT count(*) FROM {quoted}")  # noqa: S608 - quoted identifiers from the catalog
        counts[key] = int(cursor.fetchone()[0])
    applied: dict[str, list[str]] = {}
    if migrations_table:
        cursor.execute(f"SELECT app, name FROM {migrations_table} ORDER BY app, name")  # noqa: S608
        for app, name in cursor.fetchall():
            applied.setdefault(app, []).append(name)
    return DatabaseState(tables=counts, migrations=applied)


def state_diff(expected: DatabaseState, actual: DatabaseState, *, expected_label: str, actual_label: str) -> list[str]:
    """Human-readable differences between two states, one line each; empty when they match."""
    lines: list[str] = []
    for table in sorted(expected.tables.keys() | actual.tables.keys()):
        want, got = expected.tables.get(table), actual.tables.get(table)
        if want is None:
            lines.append(f"table {table}: not in {expected_label}, {got} rows in {actual_label}")
        elif got is None:
            lines.append(f"table {table}: {want} rows in {expected_label}, missing from {actual_label}")
        elif want != got:
            lines.append(f"table {table}: {want} rows in {expected_label}, {got} in {actual_label}")
    for app in sorted(expected.migrations.keys() | actual.migrations.keys()):
        want_set, got_set = set(expected.migrations.get(app, [])), set(actual.migrations.get(app, []))
        for name in sorted(want_set - got_set):
            lines.append(f"migration {app}.{name}: in {expected_label}, not in {actual_label}")
        for name in sorted(got_set - want_set):
            lines.append(f"migration {app}.{name}: in {actual_label}, not in {expected_label}")
    return lines


@dataclass(frozen=True)
class Manifest:
    """The JSON stored beside a backup as ``<file>.json``."""

    file: str
    database: str
    engine: str
    created_at: str
    size: int
    sha256: str
    state: DatabaseState
    format: int = MANIFEST_FORMAT

    def to_json(self) -> str:
        data = asdict(self)
        state = data.pop("state")
        return json.dumps({**data, "migrations": state["migrations"], "tables": state["tables"]}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Manifest:
        try:
            data = json.loads(text)
            return cls(
                file=data["file"],
                database=data["database"],
                engine=data["engine"],
                created_at=data["created_at"],
                size=int(data["size"]),
                sha256=data["sha256"],
                state=DatabaseState(tables=dict(data["tables"]), migrations=dict(data["migrations"])),
                format=int(data["format"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{source} is not a backup manifest: {exc!r}") from exc


def sha256_file(path: Path, *, on_chunk: Callable[[bytes], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            if on_chunk:
                on_chunk(chunk)
    return digest.hexdigest()


def checksum_line(sha256: str, file_name: str) -> str:
    """One line of ``sha256sum`` output (two spaces: text mode), so ``sha256sum -c`` can check the file."""
    return f"{sha256}  {file_name}\n"


def parse_checksum_line(text: str, *, source: str) -> str:
    parts = text.split()
    if len(parts) < 1 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
        raise BackupError(f"{source} is not a sha256sum line")
    return parts[0].lower()
