"""Staff conversations: the rules of conversations.services and the
fields the KPI dashboard reads (first response, counts, reopenings, closing)."""

import datetime

import pytest

from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from clinic.models import Team
from consent.models import Topic
from conversations.models import Conversation, SavedReply
from conversations.services import (
    ConversationError,
    conversation_assign,
    conversation_note_add,
    conversation_open,
    conversation_reply,
    conversation_status_set,
    saved_reply_render,
)
from messaging.backends import locmem
from messaging.models import Delivery, Message
from messaging.services import message_reply
from tests.clinic.factories import (
    AppointmentFactory,
    StaffMemberFactory,
)
from tests.consent.factories import TopicFactory
from tests.conversations.conversation_support import (
    daytime_and_delivered,  # noqa: F401 - a fixture
    sms_in,
    sms_patient,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("daytime_and_delivered")]
DAY = datetime.timedelta(days=1)


@pytest.fixture
def care_topic(organization):
    return TopicFactory(organization=organization, slug="appointment-reminders")


@pytest.fixture
def patient(organization):
    return sms_patient(organization, given_name="Camille")


@pytest.fixture
def staff(organization):
    return StaffMemberFactory(organization=organization, role="support").user


def test_an_inbound_sms_opens_a_conversation_on_sms_with_the_sla_clock(
    patient, care_topic
):
    # when
    before = timezone.now()
    sms_in("Bonjour, une question", sid="SM1")
    # then
    conversation = Conversation.objects.get()
    assert conversation.channel == "sms"
    assert conversation.status == "open"
    assert conversation.awaiting_since >= before
    assert conversation.first_response_due_at == conversation.awaiting_since + (
        datetime.timedelta(hours=24)
    )
    assert conversation.first_response_at is None


def test_a_staff_reply_goes_back_by_sms_and_records_the_first_response(
    patient, care_topic, staff, sms_outbox
):
    # given
    sms_in("Bonjour", sid="SM1")
    conversation = Conversation.objects.get()
    # when
    reply = conversation_reply(
        conversation=conversation, staff_user=staff, text="Bonjour Camille, oui."
    )
    # then
    assert reply.conversation == conversation
    assert reply.origin == "staff"
    assert reply.sender == staff
    channels = set(reply.deliveries.values_list("channel", flat=True))
    assert channels == {"inapp", "sms"}
    assert [m["body"] for m in sms_outbox] == ["Bonjour Camille, oui."]
    conversation.refresh_from_db()
    assert conversation.status == "pending"
    assert conversation.first_response_at is not None
    assert conversation.staff_reply_count == 1
    assert conversation.awaiting_since is None


def test_the_first_response_is_never_reset_and_replies_are_counted(
    patient, care_topic, staff
):
    # given
    sms_in("Bonjour", sid="SM1")
    conversation = Conversation.objects.get()
    first = timezone.now() - datetime.timedelta(hours=2)
    conversation_reply(conversation=conversation, staff_user=staff, text="A", now=first)
    sms_in("Merci, et aussi…", sid="SM2")
    # when
    conversation_reply(conversation=conversation, staff_user=staff, text="B")
    # then
    conversation.refresh_from_db()
    assert conversation.first_response_at == first
    assert conversation.staff_reply_count == 2
    assert conversation.awaiting_since is None


def test_the_patient_writing_again_sets_awaiting_since_and_reopens_pending(
    patient, care_topic, staff
):
    # given
    sms_in("Bonjour", sid="SM1")
    conversation = Conversation.objects.get()
    conversation_reply(conversation=conversation, staff_user=staff, text="Oui ?")
    due = Conversation.objects.get().first_response_due_at
    # when
    sms_in("Voici ma question", sid="SM2")
    # then
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.awaiting_since is not None
    assert conversation.first_response_due_at == due  # the first answer's, kept
    assert conversation.reopened_count == 0


def test_a_confidential_reply_keeps_the_text_in_the_portal(
    patient, care_topic, staff, sms_outbox
):
    # given
    sms_in("Mes résultats ?", sid="SM1")
    conversation = Conversation.objects.get()
    # when
    reply = conversation_reply(
        conversation=conversation,
        staff_user=staff,
        text="Votre glycémie est normale.",
        confidential=True,
    )
    # then
    assert reply.sensitivity == "confidential"
    assert reply.body == "Votre glycémie est normale."
    [sms] = sms_outbox
    assert "glycémie" not in sms["body"]
    assert reply.authenticity_code in sms["body"]


def test_a_portal_reply_sets_the_channel_to_inapp_and_is_answered_in_the_inbox(
    patient, care_topic, staff, sms_outbox
):
    # given
    sms_in("Bonjour", sid="SM1")
    conversation = Conversation.objects.get()
    answer = conversation_reply(conversation=conversation, staff_user=staff, text="Oui")
    sms_outbox.clear()
    # when
    message_reply(patient=patient, message=answer, text="Depuis le portail")
    reply = conversation_reply(conversation=conversation, staff_user=staff, text="OK")
    # then
    conversation.refresh_from_db()
    assert conversation.channel == "inapp"
    assert list(reply.deliveries.values_list("channel", flat=True)) == ["inapp"]
    assert sms_outbox == []


def test_a_topic_without_the_patients_channel_answers_in_the_inbox(
    organization, patient, staff
):
    # given: the only care topic may not use SMS
    Topic.objects.filter(organization=organization).update(channels=["inapp", "email"])
    conversation = conversation_open(patient=patient, channel="sms")
    # when
    reply = conversation_reply(conversation=conversation, staff_user=staff, text="Hi")
    # then
    assert list(reply.deliveries.values_list("channel", flat=True)) == ["inapp"]


def test_a_double_submit_sends_once(patient, care_topic, staff):
    # given
    conversation = conversation_open(patient=patient, channel="sms")
    # when
    for _ in range(2):
        conversation_reply(
            conversation=conversation, staff_user=staff, text="Hi", idempotency_key="k1"
        )
    # then
    conversation.refresh_from_db()
    assert Message.objects.filter(origin="staff").count() == 1
    assert conversation.staff_reply_count == 1


def test_an_empty_reply_is_refused(patient, care_topic, staff):
    conversation = conversation_open(patient=patient)
    with pytest.raises(ConversationError):
        conversation_reply(conversation=conversation, staff_user=staff, text="  ")


def test_reply_and_close(patient, care_topic, staff):
    # given
    conversation = conversation_open(patient=patient, channel="sms")
    # when
    conversation_reply(
        conversation=conversation, staff_user=staff, text="Réglé.", close=True
    )
    # then
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    assert conversation.closed_at is not None
    assert conversation.staff_reply_count == 1


def test_a_patient_writing_after_close_reopens_within_the_window(
    patient, care_topic, staff
):
    # given
    sms_in("Bonjour", sid="SM1")
    conversation = Conversation.objects.get()
    conversation_reply(conversation=conversation, staff_user=staff, text="Réglé")
    conversation_status_set(conversation=conversation, status="closed", by=staff)
    closed_at = Conversation.objects.get().closed_at
    # when
    sms_in("En fait, encore une chose", sid="SM2")
    # then
    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conversation.status == "open"
    assert conversation.reopened_count == 1
    assert conversation.closed_at == closed_at  # the last time it was closed
    assert conversation.awaiting_since is not None


@override_settings(CONVERSATION_REOPEN_DAYS=7)
def test_a_patient_writing_long_after_close_starts_a_new_conversation(
    patient, care_topic, staff
):
    # given
    sms_in("Bonjour", sid="SM1")
    old = Conversation.objects.get()
    conversation_status_set(
        conversation=old, status="closed", by=staff, now=timezone.now() - 8 * DAY
    )
    # when
    sms_in("Nouvelle question", sid="SM2")
    # then
    old.refresh_from_db()
    assert old.status == "closed"
    assert old.reopened_count == 0
    new = Conversation.objects.exclude(pk=old.pk).get()
    assert new.status == "open"
    assert new.channel == "sms"
    assert new.first_response_due_at is not None
    assert Message.objects.get(body="Nouvelle question").conversation == new


def test_a_portal_reply_in_a_closed_conversation_reopens_it(patient, care_topic, staff):
    # given
    conversation = conversation_open(patient=patient, channel="sms", awaiting=False)
    answer = conversation_reply(
        conversation=conversation, staff_user=staff, text="Done", close=True
    )
    # when
    message_reply(patient=patient, message=answer, text="Merci")
    # then
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.reopened_count == 1
    assert conversation.channel == "inapp"


def test_closing_clears_waiting_and_staff_reopening_is_not_counted(
    patient, care_topic, staff
):
    # given
    conversation = conversation_open(patient=patient)
    # when
    conversation_status_set(conversation=conversation, status="closed", by=staff)
    conversation_status_set(conversation=conversation, status="open", by=staff)
    # then
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.awaiting_since is None
    assert conversation.closed_at is not None
    assert conversation.reopened_count == 0


def test_assignment_within_the_organization(organization, patient, staff):
    # given
    colleague = StaffMemberFactory(organization=organization, role="clinician").user
    team = Team.objects.create(organization=organization, name="Accueil")
    conversation = conversation_open(patient=patient)
    # when
    conversation_assign(
        conversation=conversation, by=staff, assignee=colleague, team=team
    )
    # then
    conversation.refresh_from_db()
    assert (conversation.assigned_to, conversation.team) == (colleague, team)


def test_assignment_to_another_organization_is_refused(
    patient, staff, other_organization
):
    # given
    stranger = StaffMemberFactory(organization=other_organization).user
    their_team = Team.objects.create(organization=other_organization, name="Desk")
    conversation = conversation_open(patient=patient)
    # then
    with pytest.raises(ConversationError):
        conversation_assign(conversation=conversation, by=staff, assignee=stranger)
    with pytest.raises(ConversationError):
        conversation_assign(conversation=conversation, by=staff, team=their_team)
    with pytest.raises(PermissionDenied):
        conversation_assign(conversation=conversation, by=stranger, assignee=None)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    assert conversation.team is None


def test_staff_of_another_organization_cannot_reply(
    patient, care_topic, other_organization
):
    stranger = StaffMemberFactory(organization=other_organization).user
    conversation = conversation_open(patient=patient)
    with pytest.raises(PermissionDenied):
        conversation_reply(conversation=conversation, staff_user=stranger, text="Hi")
    assert not Message.objects.exists()


def test_notes_are_never_sent(patient, staff, sms_outbox):
    conversation = conversation_open(patient=patient)
    note = conversation_note_add(
        conversation=conversation, author=staff, body="Rappeler demain"
    )
    assert note.author == staff
    assert not Message.objects.exists()
    assert not Delivery.objects.exists()
    assert locmem.outbox == []


def test_a_saved_reply_renders_with_the_patients_values(organization, patient):
    # given
    site_appointment = AppointmentFactory(patient=patient)
    saved = SavedReply.objects.create(
        organization=organization,
        title="Rappel",
        language="fr",
        body="Bonjour {{ patient_first_name }}, {{ organization_name }} vous attend "
        "le {{ appointment_date }} à {{ site_name }}.",
    )
    conversation = conversation_open(patient=patient)
    # when
    text = saved_reply_render(saved_reply=saved, conversation=conversation)
    # then
    assert text.startswith("Bonjour Camille, Clinique des Lilas vous attend le ")
    assert text.endswith(f"à {site_appointment.site.name}.")
    assert "{{" not in text


def test_a_saved_reply_of_another_organization_is_refused(patient, other_organization):
    saved = SavedReply.objects.create(
        organization=other_organization, title="x", language="en", body="Hi"
    )
    with pytest.raises(ConversationError):
        saved_reply_render(
            saved_reply=saved, conversation=conversation_open(patient=patient)
        )
