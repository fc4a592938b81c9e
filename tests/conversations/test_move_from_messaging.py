"""Conversations moved out of messaging (conversations 0001 and 0002,
feedback 0005, messaging 0020): the rows stay where they were, the content
types follow the models both ways, and old admin addresses still land."""

import pytest

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conversations.models import Conversation
from tests.clinic.factories import PatientFactory


def migrate(targets):
    """Migrate to ``targets``; the models as the applied migrations left them."""
    MigrationExecutor(connection).migrate(targets)
    applied = MigrationExecutor(connection)
    return applied._create_project_state(with_applied_migrations=True).apps


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_rows_permissions_and_admin_log(organization, staff_member):
    # given: a conversation, its permission and an admin log entry, today
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    conversation = Conversation.objects.create(
        organization=organization,
        patient=PatientFactory(organization=organization),
        subject="Ordonnance",
    )
    content_type = ContentType.objects.get_for_model(Conversation)
    permission = Permission.objects.get(
        content_type=content_type, codename="view_conversation"
    )
    entry = LogEntry.objects.log_actions(
        user_id=staff_member.user_id,
        queryset=[conversation],
        action_flag=CHANGE,
        change_message="assigned",
        single_object=True,
    )
    ContentType.objects.clear_cache()
    # when: migrated back to before the move
    old = migrate([("conversations", None)])
    # then: messaging owns them again, rows and content type included
    old_content_type = old.get_model("contenttypes", "ContentType")
    assert old_content_type.objects.get(pk=content_type.pk).app_label == "messaging"
    old_conversation = old.get_model("messaging", "Conversation")
    assert old_conversation.objects.get(pk=conversation.pk).subject == "Ordonnance"
    assert not old_content_type.objects.filter(app_label="conversations").exists()
    # when: migrated forward again
    migrate(latest)
    ContentType.objects.clear_cache()
    # then: the same rows, under the conversations app
    assert Conversation.objects.get(pk=conversation.pk).subject == "Ordonnance"
    moved = ContentType.objects.get(pk=content_type.pk)
    assert (moved.app_label, moved.model) == ("conversations", "conversation")
    assert Permission.objects.get(pk=permission.pk).content_type_id == moved.pk
    entry = LogEntry.objects.get(pk=entry.pk)
    assert entry.get_edited_object() == conversation
    assert set(
        ContentType.objects.filter(app_label="conversations").values_list(
            "model", flat=True
        )
    ) == {"conversation", "conversationnote", "savedreply"}
    assert not ContentType.objects.filter(
        app_label="messaging", model__in=["conversation", "savedreply"]
    ).exists()


@pytest.mark.django_db
def test_a_bookmarked_desk_address_lands_on_the_moved_page(client):
    # when
    response = client.get("/admin/messaging/conversation/12/conversation/?fragment=1")
    # then
    assert response.status_code == 302
    assert response["Location"] == (
        "/admin/conversations/conversation/12/conversation/?fragment=1"
    )


@pytest.mark.django_db
def test_a_bookmarked_saved_replies_address_lands_on_the_moved_list(client):
    # when
    response = client.get("/admin/messaging/savedreply/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/conversations/savedreply/"
