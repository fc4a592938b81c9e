"""Conversations, internal notes and saved replies move from ``messaging`` to
their own app. Only Django's idea of them moves: the tables keep their names
(``Meta.db_table``) and their rows, so the database is not touched
(``messaging`` 0020 forgets them on its side, ``feedback`` 0005 points its
foreign key here, 0002 moves their content types)."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("clinic", "0014_verbose_names"),
        ("messaging", "0019_verbose_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Conversation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="public ID")),
                ("subject", models.CharField(blank=True, max_length=200, verbose_name="subject")),
                ("status", models.CharField(choices=[("open", "Open"), ("pending", "Waiting for the patient"), ("closed", "Closed")], default="open", max_length=8, verbose_name="status")),
                ("kind", models.CharField(choices=[("question", "Question"), ("complaint", "Complaint"), ("follow_up", "Feedback follow-up")], default="question", max_length=10, verbose_name="kind")),
                ("channel", models.CharField(choices=[("inapp", "Secure inbox"), ("email", "Email"), ("sms", "SMS"), ("voice", "Voice call")], default="inapp", max_length=8, verbose_name="channel")),
                ("last_message_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="last message at")),
                ("awaiting_since", models.DateTimeField(blank=True, null=True, verbose_name="awaiting since")),
                ("first_response_due_at", models.DateTimeField(blank=True, null=True, verbose_name="first response due")),
                ("first_response_at", models.DateTimeField(blank=True, null=True, verbose_name="first response")),
                ("staff_reply_count", models.PositiveIntegerField(default=0, verbose_name="staff reply count")),
                ("reopened_count", models.PositiveIntegerField(default=0, verbose_name="reopened count")),
                ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="closed at")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("assigned_to", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="assigned to")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="clinic.organization", verbose_name="organization")),
                ("patient", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="conversations", to="clinic.patient", verbose_name="patient")),
                ("site", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="clinic.site", verbose_name="site")),
                ("team", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="conversations", to="clinic.team", verbose_name="team")),
            ],
            options={
                "verbose_name": "conversation",
                "verbose_name_plural": "conversations",
                "db_table": "messaging_conversation",
                "ordering": ["-last_message_at"],
                "indexes": [
                    models.Index(fields=["patient", "-last_message_at"], name="messaging_conv_patient"),
                    models.Index(fields=["organization", "created_at"], name="messaging_conv_org_created"),
                ],
            },
        ),
        migrations.CreateModel(
            name="ConversationNote",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("body", models.TextField(max_length=4000, verbose_name="note")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at")),
                ("author", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="author")),
                ("conversation", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notes", to="conversations.conversation", verbose_name="conversation")),
            ],
            options={
                "verbose_name": "internal note",
                "verbose_name_plural": "internal notes",
                "db_table": "messaging_conversationnote",
                "ordering": ["conversation", "created_at"],
            },
        ),
        migrations.CreateModel(
            name="SavedReply",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=120, verbose_name="title")),
                ("language", models.CharField(choices=[("fr", "French"), ("en", "English")], max_length=2, verbose_name="language")),
                ("body", models.TextField(max_length=2000, verbose_name="text")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="clinic.organization", verbose_name="organization")),
            ],
            options={
                "verbose_name": "saved reply",
                "verbose_name_plural": "saved replies",
                "db_table": "messaging_savedreply",
                "ordering": ["organization", "title"],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations)
    ]
