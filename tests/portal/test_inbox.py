"""The secure inbox in the portal: list, open, reply, mark read, object."""

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AccessAudit
from consent.models import ConsentEvent
from conversations.models import Conversation
from messaging.models import Delivery, Message
from tests.clinic.factories import PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.portal.inbox_support import conversation_for, inbox_message

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_conversations_and_messages_newest_first(
    patient_client, patient_user
):
    # given
    _, patient = patient_user
    thread = conversation_for(patient, subject="About your knee")
    inbox_message(patient, conversation=thread, minutes_ago=30)
    inbox_message(patient, conversation=thread, minutes_ago=20)
    inbox_message(patient, subject="Lonely note", minutes_ago=10)
    inbox_message(
        patient, subject="Read note", minutes_ago=40, read_at="2026-01-01T00:00Z"
    )
    # when
    response = patient_client.get(reverse("portal:inbox"))
    # then
    assert response.status_code == 200
    text = response.text
    assert (
        text.index("Lonely note")
        < text.index("About your knee")
        < text.index("Read note")
    )
    assert "3 messages non lus" in text
    assert "2 non lus" in text
    assert 'aria-live="polite"' in text
    assert "Body text" not in text  # bodies only on the message page


def test_the_fragment_is_the_list_region_only(patient_client, patient_user):
    inbox_message(patient_user[1], subject="Fragment me")
    response = patient_client.get(reverse("portal:inbox") + "?fragment=1")
    assert "Fragment me" in response.text
    assert "<html" not in response.text


def test_staff_only_inbound_and_other_patients_messages_are_not_listed(
    patient_client, patient_user, organization
):
    # given
    _, patient = patient_user
    inbox_message(patient, subject="Mine")
    inbox_message(patient, subject="StaffNote", direction="in", origin="staff")
    # when
    text = patient_client.get(reverse("portal:inbox")).text
    # then
    assert "Mine" in text
    assert "StaffNote" not in text


def test_opening_a_message_shows_the_confidential_body_and_marks_it_read(
    patient_client, patient_user
):
    # given
    message = inbox_message(
        patient_user[1], sensitivity="confidential", body="Your HbA1c is 6.1%"
    )
    # when
    response = patient_client.get(
        reverse("portal:inbox_message", args=[message.public_id])
    )
    # then
    assert response.status_code == 200
    assert "Your HbA1c is 6.1%" in response.text
    assert "Pourquoi ai-je reçu ce message ?" in response.text
    message.refresh_from_db()
    assert message.read_at is not None
    assert message.deliveries.get(channel="inapp").status == Delivery.Status.READ
    assert not AccessAudit.objects.exists()  # the patient's own reading


def test_mark_read_without_javascript(patient_client, patient_user):
    message = inbox_message(patient_user[1])
    response = patient_client.post(
        reverse("portal:inbox_mark_read", args=[message.public_id])
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.read_at is not None
    assert message.deliveries.get().status == Delivery.Status.READ


def test_a_reply_becomes_an_inbound_message_in_the_conversation(
    patient_client, patient_user
):
    # given
    _, patient = patient_user
    thread = conversation_for(patient)
    message = inbox_message(patient, conversation=thread)
    # when
    response = patient_client.post(
        reverse("portal:inbox_reply", args=[message.public_id]),
        {"text": "Thank you, see you Monday"},
        follow=True,
    )
    # then
    reply = Message.objects.get(direction="in")
    assert reply.conversation == thread
    assert reply.origin == Message.Origin.PATIENT
    assert reply.sensitivity == "confidential"
    assert reply.sender == patient_user[0]
    assert "Thank you, see you Monday" in response.text
    assert not reply.deliveries.exists()


def test_a_reply_outside_a_conversation_starts_one(patient_client, patient_user):
    message = inbox_message(patient_user[1], subject="Results")
    patient_client.post(
        reverse("portal:inbox_reply", args=[message.public_id]), {"text": "OK"}
    )
    message.refresh_from_db()
    assert message.conversation is not None
    assert message.conversation.subject == "Results"
    assert message.conversation.messages.filter(direction="in").count() == 1


def test_an_empty_reply_is_refused(patient_client, patient_user):
    message = inbox_message(patient_user[1])
    patient_client.post(
        reverse("portal:inbox_reply", args=[message.public_id]), {"text": "  "}
    )
    assert not Message.objects.filter(direction="in").exists()
    assert not Conversation.objects.exists()


def test_objecting_withdraws_the_purpose_on_every_channel(patient_client, patient_user):
    # given
    message = inbox_message(patient_user[1], purpose="marketing")
    # when
    response = patient_client.post(
        reverse("portal:inbox_object", args=[message.public_id]), follow=True
    )
    # then
    event = ConsentEvent.objects.get()
    assert event.purpose == "marketing"
    assert event.channel == ""
    assert event.action == ConsentEvent.Action.WITHDRAWN
    assert event.source == "portal"
    assert response.status_code == 200


def test_care_cannot_be_objected_to(patient_client, patient_user):
    """(Security messages never reach the inbox at all: see below.)"""
    message = inbox_message(patient_user[1], purpose="care")
    page = patient_client.get(reverse("portal:inbox_message", args=[message.public_id]))
    assert "ne peuvent pas être désactivés" in page.text
    assert reverse("portal:inbox_object", args=[message.public_id]) not in page.text
    response = patient_client.post(
        reverse("portal:inbox_object", args=[message.public_id]), follow=True
    )
    assert not ConsentEvent.objects.exists()
    assert "ne peuvent pas être désactivés" in response.text


def _as_caregiver(client, caregiver):
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()


def test_a_caregiver_reading_a_message_is_audited(client, caregiver):
    # given
    message = inbox_message(caregiver.patient, body="Lou's vaccination")
    _as_caregiver(client, caregiver)
    # when
    response = client.get(reverse("portal:inbox_message", args=[message.public_id]))
    # then
    assert "Lou&#x27;s vaccination" in response.text
    audit = AccessAudit.objects.get()
    assert audit.patient == caregiver.patient
    assert audit.actor == caregiver.user
    assert audit.action == AccessAudit.Action.VIEW_MESSAGE
    assert "vaccination" not in audit.detail
    message.refresh_from_db()
    assert message.read_at is None  # only the patient's own opening marks it read


def test_a_caregiver_without_preferences_scope_cannot_object(client, caregiver):
    message = inbox_message(caregiver.patient, purpose="marketing")
    _as_caregiver(client, caregiver)
    client.post(reverse("portal:inbox_object", args=[message.public_id]))
    assert not ConsentEvent.objects.exists()


def _fill(patient, count):
    thread = conversation_for(patient)
    for n in range(count):
        inbox_message(patient, conversation=thread if n % 2 else None, minutes_ago=n)
    return inbox_message(patient, conversation=thread, minutes_ago=count + 1)


@pytest.mark.parametrize("url_name", ["portal:inbox", "portal:inbox_message"])
def test_query_counts_do_not_grow_with_messages(
    client, organization, django_assert_num_queries, url_name
):
    counts = []
    for size in (5, 50):
        user = UserFactory()
        patient = PatientFactory(organization=organization, user=user)
        message = _fill(patient, size)
        message.read_at = message.created_at
        message.save()
        client.force_login(user)
        args = [message.public_id] if url_name == "portal:inbox_message" else []
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(url_name, args=args))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[1]):
        client.get(reverse(url_name, args=args))


def test_the_list_is_paginated_with_a_cursor(patient_client, patient_user):
    _, patient = patient_user
    for n in range(25):
        inbox_message(patient, subject=f"Note {n:02d}", minutes_ago=n)
    first = patient_client.get(reverse("portal:inbox")).text
    assert "Note 00" in first
    assert "Note 24" not in first
    assert "?before=" in first
    cursor = first.split("?before=")[1].split('"')[0]
    second = patient_client.get(reverse("portal:inbox") + "?before=" + cursor).text
    assert "Note 24" in second
    assert "Note 00" not in second


def test_why_names_the_purpose_and_the_consent_behind_it(patient_client, patient_user):
    # given a campaign sent because the patient opted in on the portal
    from consent.services import consent_grant

    _, patient = patient_user
    event = consent_grant(patient=patient, purpose="marketing", source="portal")
    message = inbox_message(
        patient,
        purpose="marketing",
        why={
            "purpose": "marketing",
            "lawful_basis": "consent",
            "consent_event_id": event.pk,
        },
    )
    # when
    patient_client.cookies["django_language"] = "en"
    response = patient_client.get(
        reverse("portal:inbox_message", args=[message.public_id])
    )
    # then
    text = response.text
    assert "Health campaigns and news" in text
    assert "You agreed to it on" in text
    assert reverse("portal:inbox_object", args=[message.public_id]) in text


def test_a_reply_is_pushed_to_the_patients_open_pages(
    patient_client, patient_user, django_capture_on_commit_callbacks, monkeypatch
):
    """Other open pages re-read the inbox after the patient answers."""
    from messaging.services import replies

    sent = []
    monkeypatch.setattr(
        replies, "_inbox_notify_on_commit", lambda message: sent.append(message)
    )
    message = inbox_message(patient_user[1])
    patient_client.post(
        reverse("portal:inbox_reply", args=[message.public_id]), {"text": "Hi"}
    )
    assert [m.direction for m in sent] == ["in"]


@pytest.mark.parametrize("cursor", ["nonsense", "2026-13-45T99:00:00Z", "2026-01-01"])
def test_a_malformed_cursor_shows_the_first_page(patient_client, patient_user, cursor):
    inbox_message(patient_user[1], subject="Newest")
    response = patient_client.get(reverse("portal:inbox"), {"before": cursor})
    assert response.status_code == 200
    assert "Newest" in response.text


def test_security_codes_never_show_in_the_inbox(patient_client, patient_user):
    from messaging.inbox import inbox_message_queryset, inbox_unread_count
    from messaging.services import message_send

    _, patient = patient_user
    codes = TopicFactory(
        organization=patient.organization,
        slug="codes-x",
        purpose="security",
        channels=["email"],
    )
    message_send(patient=patient, topic=codes, origin="system", text="Code 424242")
    assert not inbox_message_queryset(patient=patient).filter(topic=codes).exists()
    assert inbox_unread_count(patient=patient) == 0
    assert "424242" not in patient_client.get("/portal/inbox/").text
