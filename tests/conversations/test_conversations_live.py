"""The staff conversation page, live: a websocket tells open pages that the
conversation changed. pytest-asyncio is not installed: each test runs its
scenario with async_to_sync."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from django.contrib.auth.models import AnonymousUser

from conversations.routing import websocket_urlpatterns
from conversations.services import conversation_open, conversation_reply
from messaging.models import Message
from portal.routing import websocket_urlpatterns as portal_routes
from tests.clinic.factories import StaffMemberFactory, UserFactory
from tests.conversations.conversation_support import sms_in, sms_patient
from tests.portal.live_support import verified_session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def patient(organization):
    return sms_patient(organization)


@pytest.fixture
def conversation(patient):
    return conversation_open(patient=patient, channel="sms")


@pytest.fixture
def support(organization):
    return StaffMemberFactory(organization=organization, role="support").user


def inbox_communicator(user, conversation, *, verified=True, routes=None, path=None):
    communicator = WebsocketCommunicator(
        URLRouter(routes or websocket_urlpatterns),
        path or f"/ws/staff/conversations/{conversation.public_id}/",
    )
    communicator.scope["user"] = user
    verified = verified and user.is_authenticated
    communicator.scope["session"] = verified_session(user) if verified else {}
    return communicator


def _refused(communicator) -> int:
    async def scenario():
        connected, code = await communicator.connect()
        assert not connected
        # Let the refused consumer finish: left running, its channel-layer
        # receive (Redis) can keep the event loop from closing.
        await communicator.disconnect()
        return code

    return async_to_sync(scenario)()


def _next_event(communicator, action):
    async def scenario():
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(action)()
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    return async_to_sync(scenario)()


def test_anonymous_sockets_are_closed_with_4401(conversation):
    assert _refused(inbox_communicator(AnonymousUser(), conversation)) == 4401


def test_a_session_without_the_second_factor_is_refused(support, conversation):
    assert _refused(inbox_communicator(support, conversation, verified=False)) == 4403


def test_staff_of_another_organization_are_refused(conversation, other_organization):
    stranger = StaffMemberFactory(organization=other_organization).user
    assert _refused(inbox_communicator(stranger, conversation)) == 4403


def test_a_role_without_conversations_is_refused(organization, conversation):
    marketing = StaffMemberFactory(organization=organization, role="marketing").user
    assert _refused(inbox_communicator(marketing, conversation)) == 4403


def test_a_patient_account_is_refused(conversation):
    assert _refused(inbox_communicator(UserFactory(), conversation)) == 4403


def test_an_inbound_sms_is_pushed_to_the_open_page(support, patient, conversation):
    def sms():
        sms_in("Bonjour", sid="SM-live")

    assert _next_event(inbox_communicator(support, conversation), sms) == {
        "type": "changed"
    }


def test_a_message_in_another_of_the_patients_conversations_reaches_the_page(
    support, patient, conversation, settings
):
    """The page shows every message with the patient: an SMS that joins the
    patient's newer conversation is news to the older one's open page too,
    through the bus (no fingerprint poll to catch it)."""
    settings.PORTAL_LIVE_POLL_SECONDS = 0
    # given: a newer open conversation, which the next SMS joins
    newer = conversation_open(patient=patient, channel="sms")

    def sms():
        sms_in("Bonjour", sid="SM-other")
        assert Message.objects.get(direction="in").conversation_id == newer.pk

    # when / then
    assert _next_event(inbox_communicator(support, conversation), sms) == {
        "type": "changed"
    }


def test_a_colleagues_reply_is_pushed_to_the_page_and_the_patients_inbox(
    organization, support, patient, conversation
):
    # given
    colleague = StaffMemberFactory(organization=organization, role="clinician").user
    patient.user = UserFactory()
    patient.save()
    portal = inbox_communicator(
        patient.user, conversation, routes=portal_routes, path="/ws/inbox/"
    )
    staff_page = inbox_communicator(support, conversation)

    def reply():
        conversation_reply(conversation=conversation, staff_user=colleague, text="Hi")

    async def scenario():
        assert (await portal.connect())[0]
        assert (await staff_page.connect())[0]
        await database_sync_to_async(reply)()
        staff_event = await staff_page.receive_json_from(timeout=5)
        inbox_event = await portal.receive_json_from(timeout=5)
        await staff_page.disconnect()
        await portal.disconnect()
        return staff_event, inbox_event

    staff_event, inbox_event = async_to_sync(scenario)()
    assert staff_event == {"type": "changed"}
    assert inbox_event == {"type": "message", "unread": 1}


def test_with_redis_down_an_inbound_sms_still_reaches_the_open_page(
    support, patient, conversation, settings
):
    """The socket opens without the bus and re-reads the conversation every
    REDIS_RETRY_SECONDS; the webhook that stores the SMS does not fail."""
    from config.settings import redis_channel_layers
    from tests.support.redis import refusing_url

    # given: the channel layer's Redis refuses connections
    settings.CHANNEL_LAYERS = redis_channel_layers(refusing_url())
    settings.PORTAL_LIVE_POLL_SECONDS = 0
    settings.REDIS_RETRY_SECONDS = 0.2

    def sms():
        sms_in("Bonjour", sid="SM-no-redis")

    # when / then
    assert _next_event(inbox_communicator(support, conversation), sms) == {
        "type": "changed"
    }
