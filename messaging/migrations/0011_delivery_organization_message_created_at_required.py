# Delivery.organization and message_created_at required (every writer fills
# them since 0009, 0010 filled the older rows), and the index the KPI dashboard
# counts from: deliveries of one organization's messages created in a period,
# with their channel and status, read from the index alone
# (insights.kpis.delivery_and_read_rates).
#
# SET NOT NULL reads the whole table once under an exclusive lock, and the
# index is built with writes blocked (PostgreSQL): on a large production table,
# run this migration in a quiet hour (figures in docs/insights.md).

from django.db import migrations, models


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
    ]
