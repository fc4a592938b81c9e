"""The live inbox: a websocket tells open pages that a new message arrived.

pytest-asyncio is not installed: each test runs its scenario with async_to_sync.
"""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from messaging.services import message_send
from tests.clinic.factories import CaregiverFactory, PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.portal.live_support import (
    PATH,
    inbox_communicator,
    portal_patient,
    send_inapp,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _refused(communicator) -> int:
    async def scenario():
        connected, code = await communicator.connect()
        assert not connected
        # Let the refused consumer finish: left running, its channel-layer
        # receive (Redis) can keep the event loop from closing.
        await communicator.disconnect()
        return code

    return async_to_sync(scenario)()


def test_anonymous_sockets_are_closed_with_4401():
    assert _refused(inbox_communicator(AnonymousUser())) == 4401


def test_a_user_without_portal_access_is_refused():
    assert _refused(inbox_communicator(UserFactory())) == 4403


def test_a_session_without_the_second_factor_is_refused(organization):
    user, _ = portal_patient(organization)
    assert _refused(inbox_communicator(user, verified=False)) == 4403


def test_a_caregiver_without_the_messages_scope_is_refused(organization):
    link = CaregiverFactory(
        user=UserFactory(),
        patient=PatientFactory(organization=organization),
        can_see_messages=False,
    )
    session = {"portal_acting_for": str(link.patient.public_id)}
    assert _refused(inbox_communicator(link.user, session)) == 4403


def test_a_new_inbox_message_is_pushed_with_the_unread_count(organization):
    # given
    user, patient = portal_patient(organization)
    communicator = inbox_communicator(user)

    async def scenario():
        connected, _ = await communicator.connect()
        assert connected
        # when
        await database_sync_to_async(send_inapp)(patient)
        # then
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)() == {"type": "message", "unread": 1}


def test_a_caregiver_follows_the_patient_acted_for(organization, caregiver):
    communicator = inbox_communicator(
        caregiver.user, {"portal_acting_for": str(caregiver.patient.public_id)}
    )

    async def scenario():
        assert (await communicator.connect())[0]
        await database_sync_to_async(send_inapp)(caregiver.patient)
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)()["unread"] == 1


def test_another_patients_message_is_not_pushed(organization):
    user, _ = portal_patient(organization)
    _, other = portal_patient(organization)
    communicator = inbox_communicator(user)

    async def scenario():
        assert (await communicator.connect())[0]
        await database_sync_to_async(send_inapp)(other)
        nothing = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)()


def test_the_asgi_application_authenticates_with_the_session_cookie(organization):
    # given a signed-in browser
    from config.asgi import application

    user, patient = portal_patient(organization)
    client = Client()
    client.force_login(user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_id}".encode()),
        (b"origin", b"http://testserver"),
    ]
    communicator = WebsocketCommunicator(application, PATH, headers=headers)

    async def scenario():
        connected, _ = await communicator.connect()
        assert connected
        # when
        await database_sync_to_async(send_inapp)(patient)
        # then
        event = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return event

    assert async_to_sync(scenario)()["type"] == "message"


def _send_without_push(patient):
    """A message stored by another process: nothing crosses this process's
    in-memory layer (here, one that went by email only)."""
    topic = TopicFactory(
        organization=patient.organization,
        slug="by-email",
        channels=["inapp", "email"],
    )
    for language in ("fr", "en"):
        TemplateFactory(topic=topic, channel="email", language=language, body="Hi")
    return message_send(
        patient=patient, topic=topic, origin="staff", text="New!", channels=["email"]
    )


def _first_event(user, patient, timeout: float):
    """The first event after a message stored without a push; None if none
    came within ``timeout`` seconds."""
    communicator = inbox_communicator(user)

    async def scenario():
        assert (await communicator.connect())[0]
        await database_sync_to_async(_send_without_push)(patient)
        if await communicator.receive_nothing(timeout=timeout):
            event = None
        else:
            event = await communicator.receive_json_from()
        await communicator.disconnect()
        return event

    return async_to_sync(scenario)()


def test_without_a_shared_layer_the_socket_rereads_the_inbox(organization, settings):
    settings.PORTAL_LIVE_POLL_SECONDS = 0.1
    user, patient = portal_patient(organization)
    patient.email = "live@example.org"
    patient.save()
    assert _first_event(user, patient, timeout=3) == {"type": "message", "unread": 1}


def test_with_polling_off_only_pushes_reach_the_page(organization, settings):
    settings.PORTAL_LIVE_POLL_SECONDS = 0
    user, patient = portal_patient(organization)
    patient.email = "live@example.org"
    patient.save()
    assert _first_event(user, patient, timeout=0.5) is None
