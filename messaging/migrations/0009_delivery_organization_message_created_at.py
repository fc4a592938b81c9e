# The KPI dashboard counts the deliveries of the messages created in a period
# per channel (insights.kpis.delivery_and_read_rates). Joining 2,100,000
# deliveries with their messages took most of the page's time
# (bench/insights.py); a copy of the message's organization and creation time
# on each delivery lets one index answer it. Added nullable here, filled for
# existing rows by 0010, made required with its index by 0011.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0008_insights_outbound_messages_covering_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                null=True,
                on_delete=models.DO_NOTHING,
                related_name="+",
                to="clinic.organization",
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="message_created_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
    ]
