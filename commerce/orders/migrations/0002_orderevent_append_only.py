"""The database refuses to change order events (the order history), whatever the code path (raw SQL included).

PostgreSQL: a trigger refuses UPDATE and DELETE (TRUNCATE, used by test flushes run by
the database owner, is not a row operation and stays possible). SQLite: a trigger refuses UPDATE only, because
Django's flush empties SQLite tables with DELETE.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION orders_orderevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'orders_orderevent is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orders_orderevent_append_only
    BEFORE UPDATE OR DELETE ON orders_orderevent
    FOR EACH ROW EXECUTE FUNCTION orders_orderevent_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS orders_orderevent_append_only ON orders_orderevent;
DROP FUNCTION IF EXISTS orders_orderevent_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER orders_orderevent_no_update BEFORE UPDATE ON orders_orderevent
BEGIN
    SELECT RAISE(ABORT, 'orders_orderevent is append-only: UPDATE refused');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS orders_orderevent_no_update;"


def _run(schema_editor, sql_by_vendor):
    sql = sql_by_vendor.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
