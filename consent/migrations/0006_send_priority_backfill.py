"""Send records written before priority classes get their topic's class, so
the caps and the budget count them as they count new ones (migration 0005
gave every row the routine-care default)."""

from django.db import migrations
from django.db.models import Q

# consent.vocabulary.PriorityClass, frozen here as migrations must be.
SECURITY, ESSENTIAL, ROUTINE, FEEDBACK, MARKETING = range(5)


def backfill(apps, schema_editor):
    SendRecord = apps.get_model("consent", "SendRecord")
    records = SendRecord.objects.all()
    records.filter(purpose="security").update(priority=SECURITY)
    records.filter(purpose="feedback").update(priority=FEEDBACK)
    records.filter(purpose="marketing").update(priority=MARKETING)
    records.filter(
        Q(urgent=True) | Q(topic__must_acknowledge=True), purpose="care"
    ).update(priority=ESSENTIAL)


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0005_topic_essential_send_priority"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
