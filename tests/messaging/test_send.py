"""message_send plans deliveries by consent; workers deliver them once."""

import datetime

import pytest
import time_machine

from django.core import mail
from django.test import override_settings

from clinic.services import patient_save
from consent import services as consent_services
from messaging.backends.base import BaseBackend, DeliveryError
from messaging.content import MessageContentError
from messaging.models import Delivery, Message
from messaging.services import deliveries_process, message_mark_read, message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organization):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )


@pytest.fixture
def reminders(organization):
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms", "email"]
    )
    TemplateFactory(
        topic=topic, channel="inapp", body="Rendez-vous le {{ appointment_date }}."
    )
    TemplateFactory(topic=topic, channel="sms", body="RDV le {{ appointment_date }}.")
    TemplateFactory(
        topic=topic,
        channel="email",
        subject="Rappel",
        body="RDV le {{ appointment_date }}.",
    )
    return topic


@pytest.fixture(autouse=True)
def _at_noon():
    """Workers read the clock: run every test at a fixed, daytime moment."""
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture(autouse=True)
def _deliver_on_commit(django_capture_on_commit_callbacks, on_commit_at_once):
    """The test's transaction never commits: run the queued delivery task at
    once, as a worker would right after the commit."""


def send(patient, topic, **kwargs):
    return message_send(
        patient=patient,
        topic=topic,
        origin="system",
        context={"appointment_date": "12/03"},
        at=WEEKDAY_NOON_PARIS,
        **kwargs,
    )


def test_inbox_and_first_channel_are_delivered(patient, reminders, sms_outbox):
    # when
    message = send(patient, reminders)
    # then
    statuses = dict(message.deliveries.values_list("channel", "status"))
    assert statuses == {"inapp": "delivered", "sms": "sent"}
    assert sms_outbox[0]["body"] == "RDV le 12/03."
    assert sms_outbox[0]["to"] == "+33612345678"
    assert message.body == "Rendez-vous le 12/03."
    assert mail.outbox == []  # no redundant copy by email


def test_same_idempotency_key_returns_the_first_message_and_sends_nothing_more(
    patient, reminders, sms_outbox
):
    first = send(patient, reminders, idempotency_key="k-1")
    again = send(patient, reminders, idempotency_key="k-1")
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert len(sms_outbox) == 1


def test_opted_out_channel_is_recorded_with_its_reason_and_the_next_one_used(
    patient, reminders, sms_outbox
):
    consent_services.consent_withdraw(
        patient=patient, purpose="care", channel="sms", source="sms-keyword"
    )
    message = send(patient, reminders)
    rows = {d.channel: (d.status, d.reason) for d in message.deliveries.all()}
    assert rows["sms"] == ("suppressed", "opted_out")
    assert rows["email"] == ("sent", "")
    assert sms_outbox == []
    assert mail.outbox[0].subject == "Rappel"


@time_machine.travel(
    datetime.datetime(2026, 3, 10, 22, 0, tzinfo=datetime.UTC), tick=False
)
def test_quiet_hours_defer_without_dropping(patient, reminders, sms_outbox):
    night = datetime.datetime(2026, 3, 10, 22, 0, tzinfo=datetime.UTC)
    message = message_send(
        patient=patient, topic=reminders, origin="system", context={}, at=night
    )
    sms = message.deliveries.get(channel="sms")
    assert (sms.status, sms.reason) == ("deferred", "quiet_hours")
    assert sms.next_attempt_at == datetime.datetime(
        2026, 3, 11, 7, 0, tzinfo=datetime.UTC
    )
    assert sms_outbox == []


def test_confidential_body_never_leaves_the_inbox(patient, organization, sms_outbox):
    topic = TopicFactory(
        organization=organization, slug="results", channels=["inapp", "sms", "email"]
    )
    TemplateFactory(
        topic=topic,
        channel="inapp",
        sensitivity="confidential",
        body="Votre résultat {{ result_name }} : {{ diagnosis }}",
    )
    TemplateFactory(
        topic=topic, channel="sms", sensitivity="confidential", body="{{ diagnosis }}"
    )
    message = message_send(
        patient=patient,
        topic=topic,
        origin="system",
        at=WEEKDAY_NOON_PARIS,
        context={"result_name": "HbA1c", "diagnosis": "DIABETES-SECRET"},
    )
    assert "DIABETES-SECRET" in message.body
    sms = sms_outbox[0]["body"]
    assert "DIABETES-SECRET" not in sms
    assert "HbA1c" not in sms
    assert message.authenticity_code in sms
    assert not Delivery.objects.filter(body__contains="DIABETES-SECRET").exists()


def test_unknown_context_variable_is_a_clear_error(patient, reminders):
    with pytest.raises(MessageContentError, match="Unknown template variable: secret"):
        message_send(
            patient=patient, topic=reminders, origin="system", context={"secret": "x"}
        )
    assert not Message.objects.exists()


def test_reading_in_app_cancels_waiting_copies(patient, reminders):
    night = datetime.datetime(2026, 3, 10, 22, 0, tzinfo=datetime.UTC)
    message = message_send(
        patient=patient, topic=reminders, origin="system", context={}, at=night
    )
    message_mark_read(message=message)
    rows = {d.channel: (d.status, d.reason) for d in message.deliveries.all()}
    assert rows == {"inapp": ("read", ""), "sms": ("cancelled", "already_read")}


def test_stop_after_planning_wins_at_claim_time(patient, reminders, sms_outbox):
    night = datetime.datetime(2026, 3, 10, 22, 0, tzinfo=datetime.UTC)
    message = message_send(
        patient=patient, topic=reminders, origin="system", context={}, at=night
    )
    sms = message.deliveries.get(channel="sms")
    consent_services.consent_withdraw(
        patient=patient, purpose="care", channel="sms", source="sms-keyword"
    )
    Delivery.objects.filter(pk=sms.pk).update(
        next_attempt_at=WEEKDAY_NOON_PARIS
    )  # its time has come
    deliveries_process([sms.pk])
    sms.refresh_from_db()
    assert (sms.status, sms.reason) == ("suppressed", "opted_out")
    assert sms_outbox == []


class FlakyBackend(BaseBackend):
    """Fails the first ``failures`` sends with a transient error, then succeeds."""

    calls = 0
    failures = 2

    def send(self, delivery):
        FlakyBackend.calls += 1
        if FlakyBackend.calls <= self.failures:
            raise DeliveryError("busy", code="503", retry_after=120)
        return f"flaky-{delivery.pk}"


class RejectingBackend(BaseBackend):
    def send(self, delivery):
        raise DeliveryError("invalid number", permanent=True, code="21211")


def test_transient_failures_retry_with_back_off(patient, reminders):
    FlakyBackend.calls = 0
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": {"BACKEND": "tests.messaging.test_send.FlakyBackend"},
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        message = send(patient, reminders)
        sms = message.deliveries.get(channel="sms")
        assert (sms.status, sms.attempts, sms.error_code) == ("queued", 1, "503")
        assert sms.next_attempt_at.timestamp() - WEEKDAY_NOON_PARIS.timestamp() > 100
        Delivery.objects.filter(pk=sms.pk).update(next_attempt_at=WEEKDAY_NOON_PARIS)
        deliveries_process([sms.pk])
        Delivery.objects.filter(pk=sms.pk).update(next_attempt_at=WEEKDAY_NOON_PARIS)
        deliveries_process([sms.pk])
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.provider_id) == ("sent", 3, f"flaky-{sms.pk}")


def test_permanent_failure_is_not_retried(patient, reminders):
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": {"BACKEND": "tests.messaging.test_send.RejectingBackend"},
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        message = send(patient, reminders)
    sms = message.deliveries.get(channel="sms")
    assert (sms.status, sms.reason, sms.error_code) == (
        "failed",
        "provider_rejected",
        "21211",
    )


def test_a_delivery_is_sent_once_even_if_processed_twice(
    patient, reminders, sms_outbox
):
    message = send(patient, reminders)
    sms = message.deliveries.get(channel="sms")
    deliveries_process([sms.pk])
    deliveries_process([sms.pk])
    assert len(sms_outbox) == 1


def test_same_day_reminders_go_out_as_one_sms(
    patient, reminders, sms_outbox, monkeypatch
):
    from django.db import transaction

    # given: two reminders planned together (their tasks run after the commit)
    queued = []
    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: queued.append(fn)
    )
    first = message_send(
        patient=patient,
        topic=reminders,
        origin="reminder",
        context={"appointment_date": "12/03"},
    )
    second = message_send(
        patient=patient,
        topic=reminders,
        origin="reminder",
        context={"appointment_date": "13/03"},
    )
    # when: one worker batch takes both
    ids = list(Delivery.objects.filter(channel="sms").values_list("pk", flat=True))
    deliveries_process(ids)
    # then
    assert [entry["body"] for entry in sms_outbox] == ["RDV le 12/03.\nRDV le 13/03."]
    rows = Delivery.objects.filter(channel="sms").order_by("pk")
    assert [(d.status, d.reason) for d in rows] == [("sent", ""), ("sent", "merged")]
    assert rows[0].provider_id == rows[1].provider_id
    assert {first.pk, second.pk} == {d.message_id for d in rows}


def test_a_rejected_channel_falls_back_to_the_next(patient, reminders):
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": {"BACKEND": "tests.messaging.test_send.RejectingBackend"},
        "email": {"BACKEND": "messaging.backends.email.Backend"},
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        message = send(patient, reminders)
    rows = {d.channel: d.status for d in message.deliveries.all()}
    assert rows == {"inapp": "delivered", "sms": "failed", "email": "sent"}
    assert mail.outbox[0].body == "RDV le 12/03."


def test_confidential_message_needs_no_template_for_its_notice(
    patient, organization, sms_outbox
):
    topic = TopicFactory(
        organization=organization, slug="lab", channels=["inapp", "email", "sms"]
    )
    TemplateFactory(
        topic=topic, channel="inapp", sensitivity="confidential", body="{{ diagnosis }}"
    )
    message = message_send(
        patient=patient,
        topic=topic,
        origin="system",
        context={"diagnosis": "SECRET-DX"},
    )
    email = message.deliveries.get(channel="email")
    assert email.status == "sent"
    assert message.authenticity_code in mail.outbox[0].body
    assert "SECRET-DX" not in mail.outbox[0].body
    assert "SECRET-DX" not in mail.outbox[0].subject


def test_a_confidential_channel_variant_sends_a_notice(
    patient, organization, sms_outbox
):
    topic = TopicFactory(
        organization=organization, slug="rx", channels=["inapp", "sms"]
    )
    TemplateFactory(topic=topic, channel="inapp", body="Ordonnance prête.")
    TemplateFactory(
        topic=topic,
        channel="sms",
        sensitivity="confidential",
        body="{{ prescription }}",
    )
    message = message_send(
        patient=patient,
        topic=topic,
        origin="system",
        context={"prescription": "SECRET-RX"},
    )
    assert "SECRET-RX" not in sms_outbox[0]["body"]
    assert message.authenticity_code in sms_outbox[0]["body"]


def test_campaign_mail_carries_one_click_unsubscribe_and_care_mail_does_not(
    patient, organization, reminders
):
    from consent import services as consent_services

    news = TopicFactory(
        organization=organization,
        slug="news",
        purpose="marketing",
        channels=["inapp", "email"],
    )
    TemplateFactory(topic=news, channel="email", subject="News", body="Conseils")
    consent_services.consent_grant(
        patient=patient, purpose="marketing", source="portal"
    )
    message_send(patient=patient, topic=news, origin="campaign", context={})
    consent_services.consent_withdraw(
        patient=patient, purpose="care", channel="sms", source="portal"
    )
    send(patient, reminders)
    campaign_mail, care_mail = mail.outbox
    assert (
        campaign_mail.extra_headers["List-Unsubscribe-Post"]
        == "List-Unsubscribe=One-Click"
    )
    assert campaign_mail.extra_headers["List-Unsubscribe"].startswith("<http")
    assert "List-Unsubscribe" not in care_mail.extra_headers


def test_the_message_keeps_why_it_was_sent(patient, reminders):
    message = send(patient, reminders)
    message.refresh_from_db()
    assert message.why == {
        "purpose": "care",
        "lawful_basis": "care",
        "consent_event_id": None,
    }


def test_a_message_can_be_limited_to_some_channels(patient, reminders, sms_outbox):
    message = message_send(
        patient=patient,
        topic=reminders,
        origin="system",
        text="Code 123456",
        channels=["sms"],
    )
    assert list(message.deliveries.values_list("channel", flat=True)) == ["sms"]
    assert sms_outbox[0]["body"] == "Code 123456"


def test_sms_typography_is_kept_to_gsm7_so_one_segment_stays_one(patient, organization):
    """French text carries ’ and non-breaking spaces that look the same on a
    phone but make an SMS three times more expensive (UCS-2)."""
    from messaging.rendering import sms_segments

    topic = TopicFactory(organization=organization, slug="typo", channels=["sms"])
    text = (
        "Votre rendez-vous d\u2019aujourd\u2019hui\u00a0: «\u00a0confirmé\u00a0»\u2026"
    )
    TemplateFactory(topic=topic, channel="sms", body=text)
    TemplateFactory(topic=topic, channel="inapp", body=text)
    message = send(patient, topic)
    sms = message.deliveries.get(channel="sms").body
    assert sms == "Votre rendez-vous d'aujourd'hui : \" confirmé \"..."
    assert sms_segments(sms)["encoding"] == "GSM-7"
    assert message.body == text  # the inbox keeps the typography
