"""The database refuses to change or delete rows of the append-only cashback tables, whatever the code path (raw
SQL included): the wallet ledger, cashback entry history, risk assessments and raw conversion reports.

PostgreSQL: a trigger per table refuses UPDATE and DELETE (TRUNCATE, used by test flushes run by the database
owner, is not a row operation and stays possible). SQLite: a trigger refuses UPDATE only, because Django's flush
empties SQLite tables with DELETE.
"""

from django.db import migrations

TABLES = ("cashback_walletentry", "cashback_cashbackentryevent", "cashback_riskassessment", "cashback_conversionreport")


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


def _run(schema_editor, builders):
    build = builders.get(schema_editor.connection.vendor)
    if build:
        for table in TABLES:
            schema_editor.execute(build(table))


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": _postgres_up, "sqlite": _sqlite_up})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": _postgres_down, "sqlite": _sqlite_down})


class Migration(migrations.Migration):
    dependencies = [("cashback", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
