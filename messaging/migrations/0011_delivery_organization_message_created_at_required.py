# Delivery.organization and message_created_at required (every writer fills
# them since 0009, 0010 filled the older rows), and the index the KPI dashboard
# counts from: deliveries of one organization's messages created in a period,
# with their channel and status, read from the index alone
# (insights.kpis.delivery_and_read_rates).
#
# SET NOT NULL reads the whole table once under an exclusive lock, and the
# index is built with writes blocked (PostgreSQL): on a large production table,
# run this migration in a quiet hour (figures in docs/insights.md).
#
# Then ANALYZE: 0010 rewrote every row, and until autovacuum analyses the
# table the planner has no statistics for the new columns (it estimated 52
# rows of 517,568 and read the table instead of the index: 334 ms, not 130).
# Autovacuum's VACUUM then sets the visibility map again, which the index-only
# scan needs: run ``VACUUM (ANALYZE) messaging_delivery`` after deploying
# rather than wait for it.

from django.db import migrations, models


def analyze(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE messaging_delivery")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0010_delivery_backfill_organization_message_created_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=models.DO_NOTHING,
                related_name="+",
                to="clinic.organization",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="message_created_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                fields=["organization", "message_created_at", "channel", "status"],
                name="messaging_delivery_org_msg_at",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop, elidable=True),
    ]
