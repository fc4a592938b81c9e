# Joins the two parallel 0002 migrations (appointment reminders, recurring care
# reminders) so that `migrate` runs; the lead may keep or replace it when merging.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0002_care_schedules"),
        ("outreach", "0002_reminders"),
    ]

    operations = []
