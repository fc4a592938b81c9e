"""The topics appointment reminders use become essential care (consent 0005),
and so do their past sends: an appointment reminder no longer gives way to
routine care under the fatigue budget."""

from django.db import migrations

ESSENTIAL = 1  # consent.vocabulary.PriorityClass.ESSENTIAL


def mark_essential(apps, schema_editor):
    Topic = apps.get_model("consent", "Topic")
    SendRecord = apps.get_model("consent", "SendRecord")
    ReminderRule = apps.get_model("outreach", "ReminderRule")
    topic_ids = list(
        ReminderRule.objects.filter(topic__purpose="care")
        .values_list("topic_id", flat=True)
        .distinct()
    )
    Topic.objects.filter(pk__in=topic_ids).update(essential=True)
    SendRecord.objects.filter(topic_id__in=topic_ids).update(priority=ESSENTIAL)


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0006_send_priority_backfill"),
        ("outreach", "0002_reminders_waitlist_care_schedules"),
    ]

    operations = [
        migrations.RunPython(mark_essential, migrations.RunPython.noop),
    ]
