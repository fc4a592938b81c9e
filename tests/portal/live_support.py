"""The live inbox's websocket as its tests open it: a communicator on
``/ws/inbox/`` for a user whose session passed the second factor, a patient
with a user, and one in-app message sent to them."""

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from messaging.services import message_send
from portal.routing import websocket_urlpatterns
from tests.clinic.factories import PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

PATH = "/ws/inbox/"


def verified_session(user) -> dict:
    """A session that passed the second factor, as after signing in."""
    device = StaticDevice.objects.create(user=user, name="test", confirmed=True)
    return {DEVICE_ID_SESSION_KEY: device.persistent_id}


def inbox_communicator(user, session=None, *, verified=True):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), PATH)
    communicator.scope["user"] = user
    session = dict(session or {})
    if verified and user.is_authenticated:
        session.update(verified_session(user))
    communicator.scope["session"] = session
    return communicator


def portal_patient(organization):
    user = UserFactory()
    return user, PatientFactory(organization=organization, user=user)


def send_inapp(patient):
    topic = TopicFactory(
        organization=patient.organization, slug="live-care", channels=["inapp"]
    )
    for language in ("fr", "en"):
        TemplateFactory(topic=topic, channel="inapp", language=language, body="Hi")
    return message_send(patient=patient, topic=topic, origin="staff", text="New!")
