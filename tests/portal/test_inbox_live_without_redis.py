"""The live inbox with Redis unreachable: the socket stays open and re-reads
the inbox itself until Redis is back, then takes the pushes again; the page is
told to re-read whenever it may have missed something.

pytest-asyncio is not installed: each test runs its scenario with async_to_sync.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from config.settings import redis_channel_layers
from messaging.services import message_send
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.portal.live_support import inbox_communicator, portal_patient, send_inapp
from tests.support.redis import REDIS_SERVER, private_redis, refusing_url

pytestmark = pytest.mark.django_db(transaction=True)
MESSAGE = {"type": "message", "unread": 1}


def _topic(patient):
    topic = TopicFactory(
        organization=patient.organization, slug="live-care", channels=["inapp"]
    )
    for language in ("fr", "en"):
        TemplateFactory(topic=topic, channel="inapp", language=language, body="Hi")
    return topic


@pytest.fixture
def fast_retry(settings):
    settings.PORTAL_LIVE_POLL_SECONDS = 0  # as with Redis: pushes only
    settings.REDIS_RETRY_SECONDS = 0.2


def test_with_redis_down_the_socket_opens_and_rereads_the_inbox(
    organization, settings, fast_retry
):
    # given: the channel layer's Redis refuses connections
    settings.CHANNEL_LAYERS = redis_channel_layers(refusing_url())
    user, patient = portal_patient(organization)
    communicator = inbox_communicator(user)

    async def scenario():
        connected, _ = await communicator.connect(timeout=3)
        # when: a message arrives (its push is lost with Redis)
        await database_sync_to_async(send_inapp)(patient)
        event = await communicator.receive_json_from(timeout=3)
        await communicator.disconnect()
        return connected, event

    # then: the page was not refused, and heard of the message all the same
    assert async_to_sync(scenario)() == (True, MESSAGE)


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")
def test_the_socket_outlives_a_redis_restart(organization, settings, fast_retry):
    """Redis stops while the page is open: the page is told to re-read, the
    socket watches the inbox; Redis comes back (empty): the socket joins its
    group again and pushes reach the page."""
    with private_redis() as redis:
        # given: an open inbox on a Redis of its own
        settings.CHANNEL_LAYERS = redis_channel_layers(redis.url)
        user, patient = portal_patient(organization)
        communicator = inbox_communicator(user)

        topic = _topic(patient)

        def send(topic):
            return message_send(patient=patient, topic=topic, origin="staff", text="!")

        async def scenario():
            events = []
            assert (await communicator.connect(timeout=3))[0]
            # when: Redis stops
            redis.stop()
            events.append(await communicator.receive_json_from(timeout=3))
            # a message arrives while it is down
            await database_sync_to_async(send)(topic)
            events.append(await communicator.receive_json_from(timeout=3))
            # Redis comes back
            redis.start()
            events.append(await communicator.receive_json_from(timeout=3))
            # and a later message is pushed (the watch is over: only a push
            # can tell the page now)
            await database_sync_to_async(send)(topic)
            events.append(await communicator.receive_json_from(timeout=3))
            await communicator.disconnect()
            return events

        events = async_to_sync(scenario)()
    # then
    assert events == [
        {"type": "message", "unread": 0},  # Redis lost: re-read
        MESSAGE,  # seen by the socket's own re-reading
        MESSAGE,  # Redis back: re-read what the bus may have missed
        {"type": "message", "unread": 2},  # pushed
    ]
