"""Each due finder is its own schedule now (``due: <name>``, core.scheduler,
created after migrate by core.schedules): the one job that ran them all in turn
goes, so a long campaign tick no longer delays the others behind it."""

from django.db import migrations


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="outreach: due"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0005_verbose_names"),
        ("django_q", "0018_task_success_index"),
    ]

    # Not put back when unapplied: the old job's task is gone with it.
    operations = [migrations.RunPython(remove, migrations.RunPython.noop)]
