# The KPI dashboard counts the outbound messages of a period per topic (sent,
# read) and joins the same messages with their deliveries (delivery and read
# rates per channel): insights.kpis.messages_by_topic, _deliveries. Without an
# index on (organization, created_at) both read the whole table (2,000,000
# rows in bench/insights.py for a quarter of them). This partial, covering
# index answers both from the index alone (index-only scan, no heap visit once
# autovacuum has set the visibility map): messages per topic 180 → 70 ms, the
# message side of the delivery join 200 → 60 ms.
#
# Partial: only outbound messages (95 % of rows, the only ones the dashboard
# counts there). INCLUDE (id, topic, read_at): the join key and the two
# counted columns. PostgreSQL only (SQLite has no covering index: Django skips
# it there).
#
# Database only, like 0007: Message.Meta does not list it.

from django.db import migrations, models
from django.db.models import Q

INDEX = models.Index(
    fields=["organization", "created_at"],
    include=["id", "topic", "read_at"],
    condition=Q(direction="out"),
    name="messaging_msg_org_out",
)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0007_insights_patient_activity_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AddIndex(model_name="message", index=INDEX)]
        )
    ]
