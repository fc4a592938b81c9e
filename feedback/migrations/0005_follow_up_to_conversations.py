"""``SurveyResponse.follow_up`` points at ``conversations.Conversation``, the
model that moved out of ``messaging`` (conversations 0001). Same table, same
column: Django's state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0001_initial"),
        ("feedback", "0004_verbose_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="surveyresponse",
                    name="follow_up",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="conversations.conversation", verbose_name="follow-up conversation"),
                ),
            ]
        )
    ]
