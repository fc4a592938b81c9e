"""The scheduler's one job: every minute, plan what is due (outreach.scheduler)."""

from django.db import migrations

NAME = "outreach: due"


def create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "outreach.tasks.due_run",
            "schedule_type": "I",  # every `minutes` minutes
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create, remove)]
