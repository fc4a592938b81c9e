"""The one-minute schedules: deliveries whose time has come (deferred, retries,
expired leases) and unread must-acknowledge messages due for a staff task."""

from django.db import migrations

SCHEDULES = {
    "messaging: deliveries due": "messaging.tasks.deliveries_requeue_due",
    "messaging: escalations due": "messaging.tasks.messages_escalate_due",
}


def create(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",  # every `minutes` minutes
                "minutes": 1,
                "repeats": -1,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create, remove)]
