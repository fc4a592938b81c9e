"""SMS from patients: into their conversation, or to consent when a keyword."""

import urllib.parse

import pytest

from conversations.models import Conversation
from messaging.models import Delivery, Message, SenderIdentity
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.providers.fakes import (
    SINCH_SMS,
    logged_text,
    sinch_post,
    twilio_post,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("failover_providers")]


def twilio_sms(client, text, *, sid="SMin1", sender="+33612345678"):
    data = {"MessageSid": sid, "From": sender, "To": "+33700000001", "Body": text}
    return twilio_post(client, "/webhooks/twilio/inbound", data)


def test_bonjour_from_a_patient_joins_a_new_conversation(
    client, patient, care_topic, log_records
):
    # when
    response = twilio_sms(client, "Bonjour")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert b"<Response></Response>" in response.content
    message = Message.objects.get()
    assert (message.direction, message.origin, message.body) == (
        "in",
        "patient",
        "Bonjour",
    )
    assert (message.patient, message.topic, message.free_text) == (
        patient,
        care_topic,
        True,
    )
    assert message.deliveries.count() == 0
    assert message.conversation.patient == patient
    assert "Bonjour" not in logged_text(log_records)
    assert "+33612345678" not in logged_text(log_records)


def test_a_reply_joins_the_open_conversation_and_a_retry_adds_nothing(
    client, patient, care_topic
):
    conversation = Conversation.objects.create(
        organization=patient.organization, patient=patient, status="pending"
    )
    twilio_sms(client, "Oui merci", sid="SM1")
    twilio_sms(client, "Oui merci", sid="SM1")  # Twilio retried the webhook
    message = Message.objects.get()
    conversation.refresh_from_db()
    assert message.conversation == conversation
    assert conversation.status == "open"


def test_a_patient_of_two_organizations_writes_only_to_the_one_texted(
    client, patient, care_topic
):
    """The same phone in another organization receives nothing (it used to
    receive a copy: one clinic read what was meant for another)."""
    # given
    other = PatientFactory(
        organization=OrganizationFactory(slug="other"), phone="+33612345678"
    )
    TopicFactory(organization=other.organization, slug="care")
    # when: sent to the first organization's Twilio number
    twilio_sms(client, "Bonjour")
    # then
    assert list(Message.objects.values_list("patient", flat=True)) == [patient.pk]


def test_a_number_matching_no_patient_is_logged_without_number_or_text(
    client, senders, care_topic, log_records
):
    response = twilio_sms(client, "Qui est-ce ?", sender="+33699999999")
    assert response.status_code == 200
    assert not Message.objects.exists()
    text = logged_text(log_records)
    assert "inbound sms twilio:SMin1 matches no patient" in text
    assert "+33699999999" not in text
    assert "Qui est-ce" not in text


def test_an_unsigned_inbound_sms_is_refused(client, patient, care_topic):
    response = client.post(
        "/webhooks/twilio/inbound",
        urllib.parse.urlencode(
            {"MessageSid": "SM1", "From": "+33612345678", "Body": "x"}
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert (response.status_code, response.content) == (403, b"")
    assert not Message.objects.exists()


def test_sinch_inbound_numbers_without_plus_find_the_patient(
    client, patient, care_topic
):
    payload = {
        "type": "mo_text",
        "id": "01MO",
        "from": "33612345678",
        "to": "33700000002",
        "body": "Bonjour",
    }
    response = sinch_post(client, "/webhooks/sinch/inbound", payload)
    assert response.status_code == 200
    assert Message.objects.get().patient == patient


def test_stop_goes_to_consent_and_twilio_gets_the_required_reply(
    client, patient, care_topic
):
    from consent.models import ConsentEvent

    response = twilio_sms(client, "STOP")
    assert (
        b"<Message>Clinique des Lilas : vous ne recevrez plus nos SMS"
        in response.content
    )
    assert not Message.objects.exists()
    assert set(
        ConsentEvent.objects.filter(
            patient=patient, channel="sms", source="sms-keyword"
        ).values_list("purpose", flat=True)
    ) == {"care", "marketing", "feedback"}


def test_text_that_is_no_keyword_still_joins_the_conversation(
    client, patient, care_topic
):
    twilio_sms(client, "Merci")
    assert Message.objects.get().body == "Merci"


def test_stop_through_sinch_is_answered_with_a_batch(
    client, httpserver, patient, care_topic, django_capture_on_commit_callbacks
):
    SINCH_SMS.accept(httpserver)
    payload = {
        "type": "mo_text",
        "id": "01MO",
        "from": "33612345678",
        "to": "33700000002",
        "body": "stop",
    }
    # The reply is an HTTP call made once the STOP is committed.
    with django_capture_on_commit_callbacks(execute=True):
        response = sinch_post(client, "/webhooks/sinch/inbound", payload)
    assert response.status_code == 200
    ((request, _),) = httpserver.log
    assert request.get_json()["to"] == ["+33612345678"]
    assert request.get_json()["body"].startswith(
        "Clinique des Lilas : vous ne recevrez plus"
    )


def test_a_shared_family_phone_answers_the_patient_last_texted_at_it(
    client, patient, care_topic, make_delivery
):
    # given: a sibling on the same phone was texted most recently
    sibling = PatientFactory(organization=patient.organization, phone="+33612345678")
    texted = make_delivery()
    Message.objects.filter(pk=texted.message_id).update(patient=sibling)
    Delivery.objects.filter(pk=texted.pk).update(
        status="sent", sent_at=texted.created_at
    )
    # when
    twilio_sms(client, "Oui")
    # then
    assert Message.objects.get(direction="in").patient == sibling


def test_a_number_matching_no_patient_waits_in_the_unmatched_queue(
    client, senders, care_topic
):
    from messaging.models import UnmatchedInbound

    twilio_sms(client, "Qui est-ce ?", sid="SMx", sender="+33699999999")
    twilio_sms(client, "Qui est-ce ?", sid="SMx", sender="+33699999999")  # a retry
    unmatched = UnmatchedInbound.objects.get()
    assert (unmatched.from_number, unmatched.text) == ("+33699999999", "Qui est-ce ?")
    assert not Message.objects.exists()


def test_the_organizations_own_number_picks_the_organization(
    client, patient, care_topic
):
    """Texting the other organization's number reaches only its patient."""
    # given
    other = PatientFactory(
        organization=OrganizationFactory(slug="other-org"), phone="+33612345678"
    )
    TopicFactory(organization=other.organization, slug="care-other", purpose="care")
    SenderIdentity.objects.create(
        organization=other.organization, provider="twilio", phone_number="+33700000009"
    )
    # when
    data = {"MessageSid": "SM9", "From": "+33612345678", "To": "+33700000009"}
    twilio_post(client, "/webhooks/twilio/inbound", data | {"Body": "Bonjour"})
    # then
    assert Message.objects.get(direction="in").patient == other


def test_an_answer_stops_the_escalation_ladder(client, patient, care_topic):
    from clinic.services import patient_save
    from messaging.services import message_send

    patient.phone_is_mobile = True
    patient_save(patient=patient)
    topic = TopicFactory(
        organization=patient.organization,
        slug="ack",
        channels=["inapp", "sms", "voice"],
        must_acknowledge=True,
        escalation_ladder=[{"after_hours": 4, "channel": "voice"}],
    )
    asked = message_send(
        patient=patient, topic=topic, origin="system", text="Merci de confirmer."
    )
    twilio_sms(client, "Bien reçu")
    asked.refresh_from_db()
    assert asked.read_at is not None
    assert asked.deliveries.get(channel="sms").status == "read"
    assert asked.deliveries.get(channel="voice").status == "cancelled"
