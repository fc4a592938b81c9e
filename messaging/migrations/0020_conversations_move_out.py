"""Conversations, internal notes and saved replies now belong to the
``conversations`` app (its 0001): messaging forgets them and its
``Message.conversation`` points there. Their tables stay as they are, rows
included: Django's state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0001_initial"),
        ("feedback", "0005_follow_up_to_conversations"),
        ("messaging", "0019_verbose_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="conversation",
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="messages", to="conversations.conversation", verbose_name="conversation"),
                ),
                migrations.RemoveField(model_name="conversationnote", name="conversation"),
                migrations.RemoveField(model_name="conversationnote", name="author"),
                migrations.RemoveField(model_name="savedreply", name="organization"),
                migrations.DeleteModel(name="Conversation"),
                migrations.DeleteModel(name="ConversationNote"),
                migrations.DeleteModel(name="SavedReply"),
            ]
        )
    ]
