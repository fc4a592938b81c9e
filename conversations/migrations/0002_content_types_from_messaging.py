"""The moved models' content types follow them: the ``django_content_type``
rows of ``messaging.conversation``, ``conversationnote`` and ``savedreply``
take the app label ``conversations``, so their permissions, admin log entries
and anything else pointing at a content type keep pointing at them. Backwards,
they go back to ``messaging``.

A row is left alone when its new label is already taken (content types are
created after ``migrate``: a database migrated from zero has none to move)."""

from django.db import migrations

MODELS = ("conversation", "conversationnote", "savedreply")


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if ContentType.objects.filter(app_label=new, model=model).exists():
            continue
        ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    _relabel(apps, "messaging", "conversations")


def backwards(apps, schema_editor):
    _relabel(apps, "conversations", "messaging")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("conversations", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
