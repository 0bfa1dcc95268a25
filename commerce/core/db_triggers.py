"""Database triggers that make tables append-only, for migrations: the database refuses to change or delete rows
of the listed tables, whatever the code path (raw SQL included). The code guard is
:class:`commerce.core.models.AppendOnlyModel`; this is the second line.

PostgreSQL: a trigger per table refuses UPDATE and DELETE (TRUNCATE, used by test flushes run by the database owner,
is not a row operation and stays possible). SQLite: a trigger refuses UPDATE only, because Django's flush empties
SQLite tables with DELETE.

Use in a migration::

    operations = [append_only_triggers("loyalty_pointsentry", "loyalty_tierchange")]
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations


def _postgres_up(table: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = '{table} is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
"""


def _postgres_down(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP FUNCTION IF EXISTS {table}_append_only();
"""


def _sqlite_up(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused');
END;
"""


def _sqlite_down(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_no_update;"


def append_only_triggers(*tables: str) -> migrations.RunPython:
    """A migration operation creating (and, reversed, dropping) the append-only triggers of ``tables``."""

    def run(builders: dict[str, Callable[[str], str]]) -> Callable[[Any, Any], None]:
        def apply(apps: Any, schema_editor: Any) -> None:
            build = builders.get(schema_editor.connection.vendor)
            if build is not None:
                for table in tables:
                    schema_editor.execute(build(table))

        return apply

    return migrations.RunPython(
        run({"postgresql": _postgres_up, "sqlite": _sqlite_up}),
        run({"postgresql": _postgres_down, "sqlite": _sqlite_down}),
    )
