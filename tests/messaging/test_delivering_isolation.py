"""One channel's backend raising (the in-app push with Redis down, a bug)
settles that channel's deliveries only; the other channels of the batch are
sent as usual."""

import pytest
import time_machine

from django.core import mail
from django.test import override_settings

from messaging.backends.base import BaseBackend
from messaging.models import Delivery
from messaging.services import deliveries_process
from tests.support.clock import WEEKDAY_NOON_PARIS
from tests.support.planned import planned_deliveries

pytestmark = pytest.mark.django_db


class Raising(BaseBackend):
    """Raises before calling anybody, like ``group_send`` with Redis down."""

    provider = "raising"

    def send_many(self, deliveries):
        raise ConnectionError("Error 111 connecting to redis:6379")


class RaisingAfterCalling(BaseBackend):
    """Raises after the gate let it call the provider: it may have sent."""

    provider = "raising"

    def send_many(self, deliveries):
        for delivery in deliveries:
            self.gate.admits(delivery)
        raise RuntimeError("the answers were lost")


def backends(**overrides):
    return override_settings(
        MESSAGING_BACKENDS={
            "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
            "sms": {"BACKEND": "messaging.backends.locmem.Backend"},
            "email": {"BACKEND": "messaging.backends.email.Backend"},
        }
        | {
            channel: {"BACKEND": f"tests.messaging.test_delivering_isolation.{name}"}
            for channel, name in overrides.items()
        }
    )


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


def test_a_raising_backend_does_not_stop_the_other_channels_of_the_batch(sms_outbox):
    # given: in-app notices first in the batch, their backend raising; SMS
    # and email after them
    inapp = planned_deliveries(channel="inapp", count=2)
    sms = planned_deliveries(channel="sms", count=2)
    email = planned_deliveries(channel="email", count=2)
    # when
    with backends(inapp="Raising"):
        counts = deliveries_process(inapp + sms + email)
    # then: SMS and email went out; the in-app ones are retried later
    assert sorted(m["delivery_id"] for m in sms_outbox) == sms
    assert len(mail.outbox) == 2
    assert counts == {"retry": 2, "sent": 4}
    for row in Delivery.objects.filter(pk__in=inapp):
        assert (row.status, row.error_code) == ("queued", "backend_error")
        assert row.next_attempt_at > WEEKDAY_NOON_PARIS


def test_a_provider_backend_that_raised_after_calling_is_reconciled_not_resent(
    sms_outbox,
):
    # given: the SMS backend raised after it called the provider
    sms = planned_deliveries(channel="sms", count=2)
    email = planned_deliveries(channel="email", count=1)
    # when
    with backends(sms="RaisingAfterCalling"):
        counts = deliveries_process(sms + email)
    # then: its SMS are unknown, to be asked about; the email went out
    assert counts == {"unknown": 2, "sent": 1}
    assert set(
        Delivery.objects.filter(pk__in=sms).values_list("status", "error_code")
    ) == {("unknown", "backend_error")}
    assert len(mail.outbox) == 1
