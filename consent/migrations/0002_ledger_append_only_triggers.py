"""Make the consent ledger append-only in the database too, not only in code.

PostgreSQL refuses UPDATE and DELETE on the ledger (TRUNCATE, used by test
flushes, is not a row operation). SQLite refuses UPDATE; DELETE stays possible
there because Django's test flush deletes rows one table at a time.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The consent ledger is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_ledger_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS consent_ledger_append_only ON consent_consentevent;
DROP FUNCTION IF EXISTS consent_ledger_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER consent_ledger_append_only
BEFORE UPDATE ON consent_consentevent
BEGIN
    SELECT RAISE(ABORT, 'The consent ledger is append-only: UPDATE refused');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS consent_ledger_append_only;"


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
