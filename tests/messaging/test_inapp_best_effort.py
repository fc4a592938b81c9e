"""The in-app delivery is the inbox row; its live notice is best effort. With
the channel layer failing or hanging, in-app deliveries are recorded delivered,
the rest of the batch goes out, and a batch pays one timeout at most."""

import asyncio
import logging
import time

import pytest
from channels.layers import InMemoryChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError

from messaging.models import Message
from messaging.services import message_reply, message_send
from messaging.services.delivering import deliveries_process
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.inapp_support import channel_statuses, inapp_and_sms

pytestmark = pytest.mark.django_db


class FailingLayer(InMemoryChannelLayer):
    """A layer whose Redis refuses connections."""

    calls = 0

    async def group_send(self, group, message):
        type(self).calls += 1
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379.")


class HangingLayer(InMemoryChannelLayer):
    """A layer whose Redis accepts and never answers."""

    calls = 0

    async def group_send(self, group, message):
        type(self).calls += 1
        await asyncio.sleep(3600)


def _layer(settings, layer: type) -> None:
    layer.calls = 0
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": f"{layer.__module__}.{layer.__qualname__}"}
    }


@pytest.mark.parametrize("layer", [FailingLayer, HangingLayer])
def test_a_batch_goes_out_whole_without_the_bus(settings, sms_outbox, layer):
    """Every in-app delivery recorded delivered, every SMS sent; one notice
    tried per batch, and a hanging Redis costs the batch REDIS_TIMEOUT once."""
    # given: a batch of 100 in-app and 100 SMS; Redis refusing or hanging
    _layer(settings, layer)
    settings.REDIS_TIMEOUT = 0.2
    ids = inapp_and_sms(100)
    # when
    started = time.monotonic()
    deliveries_process(ids)
    seconds = time.monotonic() - started
    # then
    assert channel_statuses(ids) == {("inapp", "delivered"): 100, ("sms", "sent"): 100}
    assert len(sms_outbox) == 100
    assert layer.calls == 1
    assert seconds < 0.2 + 3


def test_later_batches_do_not_try_until_the_retry_period_ends(settings):
    # given: a batch found Redis down
    _layer(settings, FailingLayer)
    deliveries_process(inapp_and_sms(5))
    # when: another batch follows within REDIS_RETRY_SECONDS
    ids = inapp_and_sms(5)
    deliveries_process(ids)
    # then: it did not try, and recorded all the same
    assert FailingLayer.calls == 1
    assert channel_statuses(ids) == {("inapp", "delivered"): 5, ("sms", "sent"): 5}


def test_a_lost_bus_is_logged_once_per_batch_without_patient_data(settings, caplog):
    _layer(settings, FailingLayer)
    ids = inapp_and_sms(3)
    with caplog.at_level(logging.WARNING, logger="core.live"):
        deliveries_process(ids)
    assert [r.getMessage() for r in caplog.records if r.name == "core.live"] == [
        "live notices: 3 of 3 not sent (ConnectionError); pages re-read on reconnect"
    ]
    assert "patient-" not in caplog.text


def test_with_a_real_redis_refusing_the_deliveries_are_recorded(settings):
    """channels-redis against a port where nothing listens."""
    from config.settings import redis_channel_layers
    from tests.support.redis import refusing_url

    settings.CHANNEL_LAYERS = redis_channel_layers(refusing_url())
    ids = inapp_and_sms(20)
    deliveries_process(ids)
    assert channel_statuses(ids) == {("inapp", "delivered"): 20, ("sms", "sent"): 20}


def test_a_patients_reply_is_stored_without_the_bus(
    settings, organization, django_capture_on_commit_callbacks
):
    """The reply's notices (the patient's other pages, the staff page) run
    after commit: they must not turn a stored reply into an error page (the
    patient would send it again)."""
    # given: a message in the inbox, then Redis goes down
    patient = PatientFactory(organization=organization)
    topic = TopicFactory(organization=organization, slug="care", channels=["inapp"])
    with django_capture_on_commit_callbacks(execute=True):
        question = message_send(
            patient=patient, topic=topic, origin="staff", text="Comment allez-vous ?"
        )
    _layer(settings, FailingLayer)
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reply = message_reply(patient=patient, message=question, text="Mieux.")
    # then: a notice was tried, failed, and nothing was raised
    assert callbacks
    assert FailingLayer.calls == 1
    assert Message.objects.filter(pk=reply.pk, body="Mieux.").exists()
