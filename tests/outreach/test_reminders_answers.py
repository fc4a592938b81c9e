"""Answers to reminders: SMS replies and keypad keys confirm or cancel the
appointment and tell the patient; consent keywords and other texts keep
going where they went."""

import datetime

import pytest
import time_machine

from django.test import override_settings

from clinic.models import Appointment
from consent.models import ConsentEvent
from messaging.models import Delivery, InboundReceipt, Message, SenderIdentity
from outreach.reminders.answers import answer_classify
from outreach.reminders.models import Reminder
from outreach.reminders.planner import reminders_send_due
from tests.messaging.providers.fakes import (
    TWILIO_SMS,
    TWILIO_VOICE,
    form,
    twilio_post,
)
from tests.outreach.reminders_factories import (
    ReminderRuleFactory,
    book,
    reminder_topic,
    sms_patient,
)

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)  # 11:00 in Paris
DAY = datetime.timedelta(days=1)
PHONE = "+33612345678"


@pytest.fixture(autouse=True)
def providers(httpserver):
    url = httpserver.url_for("").rstrip("/")
    TWILIO_SMS.accept(httpserver)
    TWILIO_VOICE.accept(httpserver)
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": TWILIO_SMS.config(url),
        "voice": TWILIO_VOICE.config(url),
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        yield


@pytest.fixture(autouse=True)
def _deliver_on_commit(on_commit_at_once):
    """Callbacks after commit run at once (tests/conftest.py)."""


@pytest.fixture
def topic(organization):
    return reminder_topic(organization)


@pytest.fixture
def patient(organization):
    # The number the reminders come from and the answers are sent to.
    SenderIdentity.objects.create(
        organization=organization, provider="twilio", phone_number="+33700000001"
    )
    # English: the French catalogue is written after this feature.
    return sms_patient(organization, phone=PHONE, preferred_language="en")


def reminded(patient, topic, *, starts_in=5 * DAY, channel=""):
    """An appointment whose 48-hour reminder went out at NOW."""
    ReminderRuleFactory(
        organization=patient.organization, topic=topic, offsets="48h", channel=channel
    )
    start = NOW + 2 * DAY
    with time_machine.travel(start - starts_in, tick=False):
        appointment = book(patient, start)
    with time_machine.travel(NOW, tick=False):
        assert reminders_send_due() == 1
    return appointment


def sms(client, text, sid="SMreply1", sender=PHONE):
    data = {"MessageSid": sid, "From": sender, "To": "+33700000001", "Body": text}
    with time_machine.travel(NOW + datetime.timedelta(minutes=5), tick=False):
        return twilio_post(client, "/webhooks/twilio/inbound", data)


def texts_sent(httpserver):
    return [
        form(request)["Body"]
        for request, _ in httpserver.log
        if request.path.endswith("/Messages.json")
    ]


@pytest.mark.parametrize("text", ["C", "oui", " Yes! ", "1", "O U I"])
def test_a_confirming_reply_confirms_and_is_answered(
    client, httpserver, patient, topic, text
):
    appointment = reminded(patient, topic)
    # when
    response = sms(client, text)
    # then
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"
    answer = texts_sent(httpserver)[-1]
    assert answer == (
        "Clinique des Lilas: thank you, your appointment on 03/12/2026 at "
        "11 a.m. is confirmed."
    )
    assert not Message.objects.filter(direction="in").exists()


@pytest.mark.parametrize("text", ["A", "annuler", "Annulér.", "2"])
def test_a_cancelling_reply_cancels_and_is_answered(
    client, httpserver, patient, topic, text
):
    appointment = reminded(patient, topic)
    sms(client, text)
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert "is cancelled" in texts_sent(httpserver)[-1]


def test_the_answer_goes_to_the_appointment_reminded_last(
    client, organization, patient, topic
):
    # given: two appointments, the second reminded after the first
    first = reminded(patient, topic)
    later_start = NOW + 3 * DAY
    with time_machine.travel(NOW - DAY, tick=False):
        second = book(patient, later_start)
    with time_machine.travel(later_start - 2 * DAY + datetime.timedelta(minutes=1)):
        assert reminders_send_due() == 1
    # when
    data = {"MessageSid": "SMx", "From": PHONE, "To": "+33700000001", "Body": "C"}
    with time_machine.travel(NOW + DAY + datetime.timedelta(minutes=5), tick=False):
        twilio_post(client, "/webhooks/twilio/inbound", data)
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("booked", "confirmed")


@pytest.mark.parametrize("word", ["STOP", "cancel"])
def test_stop_and_cancel_still_opt_out_and_leave_the_appointment(
    client, httpserver, patient, topic, word
):
    appointment = reminded(patient, topic)
    response = sms(client, word)
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert b"you will no longer receive SMS" in response.content
    assert ConsentEvent.objects.filter(
        patient=patient, channel="sms", action="withdrawn"
    ).exists()


def test_other_text_still_joins_the_conversation(client, patient, topic):
    appointment = reminded(patient, topic)
    sms(client, "Je serai en retard")
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert Message.objects.get(direction="in").body == "Je serai en retard"


def test_a_yes_with_no_reminder_to_answer_joins_the_conversation(client, patient):
    reminder_topic(patient.organization)
    sms(client, "oui")
    assert Message.objects.get(direction="in").body == "oui"


def test_a_reply_after_the_appointment_started_is_not_an_answer(client, patient, topic):
    appointment = reminded(patient, topic)
    data = {"MessageSid": "SMlate", "From": PHONE, "To": "+33700000001", "Body": "A"}
    with time_machine.travel(appointment.starts_at + DAY, tick=False):
        twilio_post(client, "/webhooks/twilio/inbound", data)
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert Message.objects.get(direction="in").body == "A"


def test_a_retried_webhook_answers_once(client, httpserver, patient, topic):
    reminded(patient, topic)
    sms(client, "C", sid="SMsame")
    retry = sms(client, "C", sid="SMsame")
    answers = [t for t in texts_sent(httpserver) if "confirmed" in t]
    assert len(answers) == 1
    assert b"<Response></Response>" in retry.content
    receipt = InboundReceipt.objects.get(provider_message_id="SMsame")
    assert (receipt.organization, receipt.outcome) == (patient.organization, "answer")


def test_a_retried_keypad_answer_acts_once_and_says_nothing_again(
    client, patient, topic
):
    """Twilio retrying the Gather's request: the appointment is cancelled
    once, and the retry's call says nothing more."""
    # given
    appointment = reminded(patient, topic, channel="voice")
    call = Delivery.objects.get(channel="voice")
    # when
    with time_machine.travel(NOW + datetime.timedelta(minutes=2), tick=False):
        responses = [
            twilio_post(
                client,
                "/webhooks/twilio/voice/keypad",
                {"CallSid": call.provider_id, "Digits": "2"},
            )
            for _ in range(2)
        ]
    # then
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert "is cancelled" in responses[0].content.decode()
    assert responses[1].content.endswith(b"<Response></Response>")
    assert InboundReceipt.objects.get(provider_message_id=call.provider_id).outcome == (
        "keypad"
    )


def test_confirming_twice_is_answered_without_a_duplicate_sms(
    client, httpserver, patient, topic
):
    appointment = reminded(patient, topic)
    sms(client, "C", sid="SM1")
    sms(client, "oui", sid="SM2")
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"
    answers = Message.objects.filter(origin_ref__startswith="answer to reminder")
    assert answers.count() == 2
    assert not Message.objects.filter(direction="in").exists()
    # the same words twice within consent's duplicate window: one SMS
    assert len([t for t in texts_sent(httpserver) if "is confirmed" in t]) == 1


def test_cancelling_after_cancelling_by_link_says_it_cannot_change(
    client, httpserver, patient, topic
):
    appointment = reminded(patient, topic)
    Appointment.objects.filter(pk=appointment.pk).update(status="noshow")
    sms(client, "C")
    assert "can no longer be changed" in texts_sent(httpserver)[-1]


@pytest.mark.parametrize(
    ("digit", "status", "said"),
    [
        ("1", "confirmed", "is confirmed"),
        ("2", "cancelled", "is cancelled"),
    ],
)
def test_keypad_keys_on_a_reminder_call(client, patient, topic, digit, status, said):
    # given: a reminder that went out as a call
    appointment = reminded(patient, topic, channel="voice")
    call = Delivery.objects.get(channel="voice")
    assert call.provider_id.startswith("CA")
    # when
    with time_machine.travel(NOW + datetime.timedelta(minutes=2), tick=False):
        response = twilio_post(
            client,
            "/webhooks/twilio/voice/keypad",
            {"CallSid": call.provider_id, "Digits": digit},
        )
    # then
    appointment.refresh_from_db()
    assert appointment.status == status
    assert said in response.content.decode()


def test_keypad_on_a_call_that_was_no_reminder_is_only_thanked(client, patient, topic):
    appointment = reminded(patient, topic, channel="voice")
    call = Delivery.objects.get(channel="voice")
    Reminder.objects.update(message=None)
    with time_machine.travel(NOW, tick=False):
        response = twilio_post(
            client,
            "/webhooks/twilio/voice/keypad",
            {"CallSid": call.provider_id, "Digits": "1"},
        )
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert "Thank you. Goodbye." in response.content.decode()


def test_answer_words_never_include_a_consent_keyword():
    from consent.keywords import RESERVED_KEYWORDS

    assert answer_classify("cancel") is None
    assert answer_classify("stop") is None
    assert not {"C", "OUI", "YES", "1", "A", "ANNULER", "2"} & RESERVED_KEYWORDS


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("« oui ! »", "confirm"),
        ("OUI 👍", "confirm"),
        ('"C"', "confirm"),
        ("Annulér...", "cancel"),
        ("Oui ?", None),
        ("A ?", None),
        ("Cancel texts", None),
    ],
)
def test_answers_ignore_quotes_and_emoji_but_not_a_question(text, action):
    """The whole reply is the answer whatever its quotes, punctuation or emoji;
    a question is for a person, and keywords are never answers."""
    assert answer_classify(text) == action
