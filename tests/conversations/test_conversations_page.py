"""The staff conversation page in admin: the patient's thread across channels
and what sits beside it, the actions, the scoping and the access audit."""

import datetime

import pytest

from django.urls import reverse

from clinic.models import AccessAudit, Team
from conversations.models import Conversation, ConversationNote, SavedReply
from conversations.services import conversation_open
from messaging.models import Message
from tests.clinic.factories import (
    AppointmentFactory,
    StaffMemberFactory,
)
from tests.conversations.conversation_support import (
    daytime_and_delivered,  # noqa: F401 - a fixture
    sms_in,
    sms_patient,
)
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("daytime_and_delivered")]


@pytest.fixture
def patient(organization):
    return sms_patient(organization, given_name="Camille", family_name="Martin")


@pytest.fixture
def support(organization):
    return StaffMemberFactory(organization=organization, role="support").user


@pytest.fixture
def conversation(patient):
    sms_in("Puis-je décaler mon rendez-vous ?", sid="SM1")
    return Conversation.objects.get()


def page(conversation):
    return reverse("admin:conversations_conversation_thread", args=[conversation.pk])


def action(conversation, name):
    return reverse(
        "admin:conversations_conversation_action", args=[conversation.pk, name]
    )


def test_the_page_shows_the_thread_and_what_sits_beside_it(
    client, support, patient, conversation
):
    # given
    AppointmentFactory(patient=patient)
    earlier = conversation_open(patient=patient, subject="Facture de janvier")
    client.force_login(support)
    # when
    response = client.get(page(conversation))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Puis-je décaler mon rendez-vous ?" in html
    assert "Camille Martin" in html
    assert "Facture de janvier" in html  # past conversations
    assert reverse("admin:conversations_conversation_thread", args=[earlier.pk]) in html
    assert "Upcoming appointments" in html
    assert "Consent today" in html
    assert f"/ws/staff/conversations/{conversation.public_id}/" in html
    assert "conversations/conversation.js" in html
    assert "<script>" not in html  # CSP: no inline script


def test_every_view_writes_the_access_audit(client, support, patient, conversation):
    client.force_login(support)
    client.get(page(conversation))
    audit = AccessAudit.objects.get(patient=patient)
    assert audit.actor == support
    assert audit.action == AccessAudit.Action.VIEW_MESSAGE
    assert str(conversation.public_id) in audit.detail


def test_another_organizations_conversation_is_404(
    client, conversation, other_organization
):
    # given
    stranger = StaffMemberFactory(organization=other_organization).user
    client.force_login(stranger)
    # then
    assert client.get(page(conversation)).status_code == 404
    assert client.get(page(conversation) + "?fragment=1").status_code == 404
    response = client.post(action(conversation, "reply"), {"text": "x", "key": "k"})
    assert response.status_code == 404
    assert not AccessAudit.objects.exists()
    assert not Message.objects.filter(origin="staff").exists()


def test_a_role_without_conversations_cannot_open_it(
    client, organization, conversation
):
    marketing = StaffMemberFactory(organization=organization, role="marketing").user
    client.force_login(marketing)
    assert client.get(page(conversation)).status_code == 403


def test_reply_from_the_page(client, support, conversation, sms_outbox):
    # given
    client.force_login(support)
    # when
    response = client.post(
        action(conversation, "reply"), {"text": "Oui, bien sûr.", "key": "abc"}
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == page(conversation)
    reply = Message.objects.get(origin="staff")
    assert reply.body == "Oui, bien sûr."
    assert [m["body"] for m in sms_outbox] == ["Oui, bien sûr."]
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    assert conversation.first_response_at is not None


def test_assign_status_and_note_from_the_page(
    client, organization, support, conversation
):
    # given
    team = Team.objects.create(organization=organization, name="Accueil")
    client.force_login(support)
    # when
    client.post(
        action(conversation, "assign"), {"assignee": support.pk, "team": team.pk}
    )
    client.post(action(conversation, "note"), {"body": "Rappeler demain"})
    client.post(action(conversation, "status"), {"status": "closed"})
    # then
    conversation.refresh_from_db()
    assert (conversation.assigned_to, conversation.team) == (support, team)
    assert conversation.status == "closed"
    assert ConversationNote.objects.get().body == "Rappeler demain"
    html = client.get(page(conversation)).content.decode()
    assert "Rappeler demain" in html


def test_assigning_someone_of_another_organization_is_refused(
    client, support, conversation, other_organization
):
    stranger = StaffMemberFactory(organization=other_organization).user
    client.force_login(support)
    client.post(action(conversation, "assign"), {"assignee": stranger.pk})
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


def test_a_saved_reply_prefills_the_reply(client, organization, support, conversation):
    # given
    saved = SavedReply.objects.create(
        organization=organization,
        title="Décaler",
        language="fr",
        body="Bonjour {{ patient_first_name }}, appelez {{ organization_name }}.",
    )
    client.force_login(support)
    # when
    response = client.get(page(conversation), {"saved_reply": saved.pk})
    # then
    assert "Bonjour Camille, appelez Clinique des Lilas." in response.content.decode()


def test_the_live_fragment_is_the_thread_only(client, support, conversation):
    client.force_login(support)
    response = client.get(page(conversation), {"fragment": "1"})
    html = response.content.decode()
    assert "Puis-je décaler mon rendez-vous ?" in html
    assert "<html" not in html


def test_the_queue_filters(client, support, patient, conversation):
    # given
    late = conversation_open(
        patient=patient,
        now=WEEKDAY_NOON_PARIS - datetime.timedelta(days=3),
        subject="Late one",
    )
    client.force_login(support)
    url = reverse("admin:conversations_conversation_changelist")
    # then
    assert "Late one" in client.get(url, {"queue": "overdue"}).content.decode()
    assert "Late one" not in client.get(url, {"queue": "mine"}).content.decode()
    Conversation.objects.filter(pk=late.pk).update(assigned_to=support)
    assert "Late one" in client.get(url, {"queue": "mine"}).content.decode()


@pytest.mark.parametrize(
    ("language", "announcement"),
    [("en", "New messages in the thread."), ("fr", "Nouveaux messages dans le fil.")],
)
def test_the_page_announces_new_messages_in_the_staff_language(
    client, support, conversation, language, announcement
):
    # given
    client.force_login(support)
    # when
    response = client.get(page(conversation), HTTP_ACCEPT_LANGUAGE=language)
    # then: the live script's status line, in the page's language; the live
    # region itself is not read out again on every refresh
    html = response.content.decode()
    assert f'data-text-new="{announcement}"' in html
    assert 'role="status" data-live-status' in html
    assert "aria-live" not in html.split('id="conversation-live"')[1].split(">")[0]
