"""A send whose outcome was never learnt is reconciled, never blindly resent."""

import datetime

import pytest
import time_machine

from django.test import override_settings

from clinic.services import patient_save
from messaging.backends.base import BaseBackend, DeliveryError
from messaging.models import Delivery, OutboxEntry
from messaging.services import deliveries_process, deliveries_requeue_due, message_send
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
OUTBOX = {
    "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
    "sms": {"BACKEND": "messaging.backends.outbox.Backend"},
}


@pytest.fixture
def crashed_sms(organization, request):
    """An SMS claimed by a worker that died before it recorded the outcome."""
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms"]
    )
    TemplateFactory(topic=topic, channel="sms", body="RDV")
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        message = message_send(
            patient=patient, topic=topic, origin="system", context={}
        )
    sms = message.deliveries.get(channel="sms")
    Delivery.objects.filter(pk=sms.pk).update(
        status="sending",
        attempts=1,
        lease_expires_at=WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5),
    )
    # From here on (not while the SMS was built) callbacks run at once.
    request.getfixturevalue("on_commit_at_once")
    return sms


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_send_the_provider_has_is_recorded_not_resent(crashed_sms):
    # given: the provider did get it before the worker died
    OutboxEntry.objects.create(
        delivery=crashed_sms, channel="sms", to="+33612345678", body="RDV"
    )
    # when: the lease expires and the periodic job runs
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=10), tick=False
    ):
        deliveries_requeue_due()
    # then
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sent"
    assert OutboxEntry.objects.count() == 1


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_send_the_provider_never_got_is_sent_once(crashed_sms):
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=10), tick=False
    ):
        deliveries_requeue_due()
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sent"
    assert OutboxEntry.objects.filter(delivery=crashed_sms).count() == 1


@override_settings(MESSAGING_BACKENDS=OUTBOX)
def test_a_live_lease_is_left_alone(crashed_sms):
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=1), tick=False
    ):
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "sending"
    assert not OutboxEntry.objects.exists()


class UnsureBackend:
    """A provider that cannot be asked right now: it answers about nobody."""

    provider = "unsure"

    def __init__(self, **options):
        self.channel = options.get("channel")

    def reconcile(self, deliveries):
        return {}

    def reconciled_provider(self, delivery_id):
        return self.provider

    def send_many(self, deliveries):  # pragma: no cover - must not be called
        raise AssertionError("an unknown outcome must not be resent")


UNSURE = OUTBOX | {"sms": {"BACKEND": "tests.messaging.test_reconcile.UnsureBackend"}}


@override_settings(MESSAGING_BACKENDS=UNSURE)
def test_an_outcome_the_provider_cannot_tell_stays_unknown(crashed_sms):
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=10), tick=False
    ):
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert crashed_sms.status == "unknown"
    assert crashed_sms.next_attempt_at == WEEKDAY_NOON_PARIS + datetime.timedelta(
        minutes=11
    )


@override_settings(
    MESSAGING_BACKENDS=OUTBOX
    | {"sms": {"BACKEND": "tests.messaging.test_reconcile.UnsureBackend"}}
)
def test_an_outcome_still_unknown_after_a_day_is_given_up_for_staff(crashed_sms):
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=25), tick=False
    ):
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert (crashed_sms.status, crashed_sms.reason) == ("failed", "unknown_outcome")


def test_a_report_naming_our_reference_settles_an_unknown_send(crashed_sms):
    from consent.models import SendRecord
    from messaging.services import delivery_status_update

    Delivery.objects.filter(pk=crashed_sms.pk).update(
        status="unknown", provider="sinch"
    )
    delivery = delivery_status_update(
        provider="sinch",
        provider_id="batch-9",
        status="delivered",
        client_reference=f"liaison-{crashed_sms.pk}",
    )
    assert delivery.pk == crashed_sms.pk
    crashed_sms.refresh_from_db()
    assert (crashed_sms.status, crashed_sms.provider_id) == ("delivered", "batch-9")
    assert SendRecord.objects.filter(channel="sms").count() == 1
    assert (
        delivery_status_update(
            provider="sinch",
            provider_id="x",
            status="delivered",
            client_reference="liaison-abc",
        )
        is None
    )


def test_failover_reports_which_provider_holds_a_reconciled_send(crashed_sms):
    from messaging.backends.sms.failover import SmsBackend

    OutboxEntry.objects.create(
        delivery=crashed_sms, channel="sms", to="+33612345678", body="RDV"
    )
    backend = SmsBackend(
        channel="sms",
        primary={"BACKEND": "messaging.backends.locmem.Backend"},
        secondary={"BACKEND": "messaging.backends.outbox.Backend"},
    )
    crashed_sms.refresh_from_db()
    answers = backend.reconcile([crashed_sms])
    assert answers[crashed_sms.pk].startswith("outbox-")
    assert backend.reconciled_provider(crashed_sms.pk) == "outbox"


class ListsLate(BaseBackend):
    """A provider that lists what it accepted only up to 30 s later (Twilio's
    message list lags): for now it answers "no such message"."""

    provider = "late"
    reconcile_grace = 30.0
    sent: list[int] = []

    def reconcile(self, deliveries):
        return {delivery.pk: None for delivery in deliveries}

    def send(self, delivery):
        ListsLate.sent.append(delivery.pk)
        return "late-1"


LATE = OUTBOX | {"sms": {"BACKEND": "tests.messaging.test_reconcile.ListsLate"}}
AT = WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=4, seconds=50)


@override_settings(MESSAGING_BACKENDS=LATE)
def test_not_listed_yet_is_not_read_as_not_sent(crashed_sms):
    """Within the grace after the attempt, "not found" means "cannot tell
    yet": asked again once the provider's list can be trusted, then sent."""
    # given: the worker that died had confirmed its call just before its
    # lease ran out
    ListsLate.sent = []
    Delivery.objects.filter(pk=crashed_sms.pk).update(attempted_at=AT)
    # when: another worker takes it over 20 s after that call
    with time_machine.travel(AT + datetime.timedelta(seconds=20), tick=False):
        deliveries_process([crashed_sms.pk])
    # then: nothing resent; asked again 5 + 30 s after the attempt
    crashed_sms.refresh_from_db()
    assert ListsLate.sent == []
    assert crashed_sms.status == "unknown"
    assert crashed_sms.next_attempt_at == AT + datetime.timedelta(seconds=35)
    # and when the provider still does not have it after that, it is sent once
    with time_machine.travel(AT + datetime.timedelta(seconds=36), tick=False):
        deliveries_process([crashed_sms.pk])
    crashed_sms.refresh_from_db()
    assert (crashed_sms.status, ListsLate.sent) == ("sent", [crashed_sms.pk])


class TimesOut(ListsLate):
    def send(self, delivery):
        raise DeliveryError("no answer after sending", unknown=True, code="timeout")


@override_settings(
    MESSAGING_BACKENDS=OUTBOX
    | {"sms": {"BACKEND": "tests.messaging.test_reconcile.TimesOut"}}
)
def test_a_timed_out_call_is_reconciled_once_the_provider_lists_it(crashed_sms):
    # given: a queued SMS whose call times out after leaving
    Delivery.objects.filter(pk=crashed_sms.pk).update(status="queued")
    # when
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=10), tick=False
    ):
        deliveries_process([crashed_sms.pk])
    # then: asked about when the grace since the call is over
    crashed_sms.refresh_from_db()
    assert (crashed_sms.status, crashed_sms.next_attempt_at) == (
        "unknown",
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=10, seconds=35),
    )
