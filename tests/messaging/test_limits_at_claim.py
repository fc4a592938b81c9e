"""Caps and the fatigue budget are enforced when a worker claims deliveries,
counting what it admits in the same batch (issue 17, items 4 and 5)."""

import datetime

import pytest
import time_machine

from clinic.services import patient_save
from consent import limits, services
from consent.models import SendRecord
from messaging.models import Delivery
from messaging.services import deliveries_process, message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
SATURDAY_NOON = datetime.datetime(2026, 3, 14, 11, 0, tzinfo=datetime.UTC)


@pytest.fixture
def patient(organization):
    return patient_save(
        patient=PatientFactory.build(
            organization=organization, given_name="Inès", phone="+33612345678"
        )
    )


@pytest.fixture
def queued_while_no_worker_runs(monkeypatch):
    """Deliveries are planned and committed, but no task runs them yet."""
    queued: list[int] = []
    monkeypatch.setattr("messaging.services.sending.deliveries_enqueue", queued.extend)
    return queued


def plan(patient, topic, text, at, channels=("sms",)):
    with time_machine.travel(at, tick=False):
        return message_send(
            patient=patient,
            topic=topic,
            origin="campaign",
            text=text,
            at=at,
            channels=list(channels),
        )


def test_five_campaign_sms_due_together_respect_a_cap_of_two(
    patient, organization, queued_while_no_worker_runs, sms_outbox
):
    # given: five campaign SMS planned while no worker ran (none sent yet, so
    # planning let every one through)
    newsletter = TopicFactory(
        organization=organization, slug="newsletter", purpose="marketing"
    )
    services.consent_grant(
        patient=patient,
        purpose="marketing",
        source="portal",
        occurred_at=WEEKDAY_NOON_PARIS - datetime.timedelta(days=10),
    )
    for n in range(5):
        plan(patient, newsletter, f"Vaccination campaign, week {n}", WEEKDAY_NOON_PARIS)
    assert Delivery.objects.filter(status="queued").count() == 5
    # when: one worker takes them all in one batch
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5), tick=False
    ):
        deliveries_process(queued_while_no_worker_runs)
    # then
    statuses = sorted(Delivery.objects.values_list("status", "reason"))
    assert statuses == [("sent", "")] * 2 + [("suppressed", "frequency_cap")] * 3
    assert len(sms_outbox) == 2
    assert SendRecord.objects.filter(patient=patient).count() == 2


def test_the_appointment_reminder_goes_out_when_routine_care_used_the_budget(
    patient, organization, queued_while_no_worker_runs, sms_outbox
):
    # given: a daily medication reminder has used the week's budget of six
    medication = TopicFactory(
        organization=organization, slug="medication", purpose="care"
    )
    appointments = TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        purpose="care",
        essential=True,
    )
    for day in range(6):
        limits.send_record(
            patient=patient,
            topic=medication,
            channel="sms",
            message_key=f"medication-{day}",
            sent_at=SATURDAY_NOON - datetime.timedelta(days=day + 1),
        )
    # when: Saturday's medication and appointment reminders are due
    plan(patient, medication, "Pensez à votre traitement.", SATURDAY_NOON)
    plan(patient, appointments, "RDV lundi à 10:30.", SATURDAY_NOON)
    with time_machine.travel(SATURDAY_NOON, tick=False):
        deliveries_process(queued_while_no_worker_runs)
    # then: the appointment reminder leaves, the routine one gives way
    sms = dict(
        Delivery.objects.filter(channel="sms").values_list(
            "message__topic__slug", "reason"
        )
    )
    assert sms == {"appointment-reminders": "", "medication": "fatigue_budget"}
    assert [m["body"] for m in sms_outbox] == ["RDV lundi à 10:30."]


def test_a_failed_send_gives_its_admission_back(
    patient, organization, queued_while_no_worker_runs, settings
):
    """A provider refusing the number: the caps count it no more."""
    settings.MESSAGING_BACKENDS = settings.MESSAGING_BACKENDS | {
        "sms": {"BACKEND": "tests.messaging.test_limits_at_claim.RefusingBackend"}
    }
    results = TopicFactory(organization=organization, slug="results", purpose="care")
    plan(patient, results, "Résultats disponibles.", WEEKDAY_NOON_PARIS)
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        deliveries_process(queued_while_no_worker_runs)
    assert Delivery.objects.get(channel="sms").status == "failed"
    assert not SendRecord.objects.filter(channel="sms").exists()


class RefusingBackend:
    provider = "refusing"

    def __init__(self, **options):
        pass

    def send_many(self, deliveries):
        from messaging.backends.base import DeliveryError, SendResult

        return [
            SendResult(d.pk, self.provider, "", DeliveryError("no", permanent=True))
            for d in deliveries
        ]

    def reconcile(self, deliveries):
        return {}
