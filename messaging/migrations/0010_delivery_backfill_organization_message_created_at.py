# Fill Delivery.organization and message_created_at (0009) from the rows'
# messages, by ranges of delivery ids, each range in its own transaction: the
# table stays writable (only the rows of one range are locked at a time) and a
# migration stopped halfway resumes where the columns are still NULL.
#
# Cost: every delivery row is rewritten once (a new row version, and its
# indexes updated), so the table and its indexes grow until autovacuum reclaims
# the old versions. Measured on bench/insights.py's 2,100,000 deliveries:
# see docs/insights.md § Performance.

from django.db import connection, migrations, transaction

BATCH = 50_000

POSTGRESQL = """
    UPDATE messaging_delivery d
    SET organization_id = m.organization_id, message_created_at = m.created_at
    FROM messaging_message m
    WHERE m.id = d.message_id AND d.id >= %s AND d.id < %s
      AND d.message_created_at IS NULL
"""
PORTABLE = """
    UPDATE messaging_delivery
    SET organization_id = (SELECT organization_id FROM messaging_message m
                           WHERE m.id = messaging_delivery.message_id),
        message_created_at = (SELECT created_at FROM messaging_message m
                              WHERE m.id = messaging_delivery.message_id)
    WHERE id >= %s AND id < %s AND message_created_at IS NULL
"""


def backfill(apps, schema_editor):
    Delivery = apps.get_model("messaging", "Delivery")
    bounds = Delivery.objects.filter(message_created_at__isnull=True).order_by("pk")
    first = bounds.values_list("pk", flat=True).first()
    last = bounds.reverse().values_list("pk", flat=True).first()
    if first is None:
        return
    statement = POSTGRESQL if connection.vendor == "postgresql" else PORTABLE
    for start in range(first, last + 1, BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [start, start + BATCH])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0009_delivery_organization_message_created_at"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
