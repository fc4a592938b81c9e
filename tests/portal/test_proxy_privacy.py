"""Privacy from a parent's proxy: a patient aged 15 or more hides messages and
appointments from the people acting for them, who then cannot see them
anywhere; the patient still sees everything."""

import datetime

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import Caregiver
from messaging.models import Message
from messaging.services import message_send
from portal.access import PortalAccess, patient_age
from portal.routing import websocket_urlpatterns
from tests.clinic.factories import (
    CaregiverFactory,
    PatientFactory,
)
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.portal.privacy_support import (
    HIDDEN_MARK,
    _act_for,
    _hide,
    _login,
    _message,
    _message_urls,
    _patient,
    _thread,
)

pytestmark = pytest.mark.django_db
# --- who may hide -----------------------------------------------------------


def test_the_age_is_counted_on_today_in_the_patients_time_zone(organization):
    # given: 23:30 UTC on 10 March is already 11 March in Paris
    paris = PatientFactory(
        organization=organization,
        time_zone="Europe/Paris",
        birth_date=datetime.date(2011, 3, 11),
    )
    utc = PatientFactory(
        organization=organization,
        time_zone="UTC",
        birth_date=datetime.date(2011, 3, 11),
    )
    with time_machine.travel(
        datetime.datetime(2026, 3, 10, 23, 30, tzinfo=datetime.UTC), tick=False
    ):
        # then
        assert patient_age(paris) == 15
        assert patient_age(utc) == 14
        assert PortalAccess(patient=paris).may_hide_items
        assert not PortalAccess(patient=utc).may_hide_items


def test_a_birthday_on_29_february_counts_from_1_march():
    patient = PatientFactory.build(birth_date=datetime.date(2008, 2, 29))
    assert patient_age(patient, today=datetime.date(2023, 2, 28)) == 14
    assert patient_age(patient, today=datetime.date(2023, 3, 1)) == 15


def test_the_threshold_is_a_setting(settings, teen):
    settings.PORTAL_PROXY_PRIVACY_AGE = 18
    assert not PortalAccess(patient=teen).may_hide_items


def test_a_caregiver_may_never_hide(parent):
    access = PortalAccess(patient=parent.patient, caregiver=parent)
    assert not access.may_hide_items
    assert not access.may_unhide_items
    assert not access.sees_hidden_items


@pytest.mark.parametrize("relationship", Caregiver.Relationship.values)
def test_hidden_items_are_hidden_from_every_kind_of_proxy(teen, relationship):
    """Not only parents and guardians: the relationship is what staff picked
    when inviting, and a teenager expects nobody acting for them to see it."""
    link = CaregiverFactory(patient=teen, relationship=relationship)
    assert not PortalAccess(patient=teen, caregiver=link).sees_hidden_items


# --- messages ---------------------------------------------------------------


def test_a_hidden_message_is_404_for_the_parent_everywhere(client, teen, parent):
    # given
    secret = _message(teen, subject="SECRET-SUBJECT")
    _login(client, teen.user)
    # when
    response = _hide(client, secret)
    # then
    assert response.status_code == 302
    _act_for(client, parent)
    for method, url in _message_urls(secret):
        assert getattr(client, method)(url).status_code == 404, url
    assert not Message.objects.filter(patient=teen, direction="in").exists()


def test_a_hidden_message_leaves_the_parents_list_and_unread_count(
    client, teen, parent
):
    # given
    _message(teen, subject="Visible note", minutes_ago=5)
    secret = _message(teen, subject="SECRET-SUBJECT")
    _hide(_login(client, teen.user), secret)
    # when
    _act_for(client, parent)
    page = client.get(reverse("portal:inbox"))
    fragment = client.get(reverse("portal:inbox") + "?fragment=1")
    # then
    assert page.context["unread"] == 1
    for response in (page, fragment):
        assert "Visible note" in response.text
        assert "SECRET" not in response.text
        assert str(secret.public_id) not in response.text
        assert HIDDEN_MARK not in response.text


def test_the_patient_still_sees_a_hidden_message_with_a_marker(client, teen, parent):
    # given
    secret = _message(teen, subject="SECRET-SUBJECT")
    _login(client, teen.user)
    _hide(client, secret)
    # when
    listing = client.get(reverse("portal:inbox"))
    opened = client.get(reverse("portal:inbox_message", args=[secret.public_id]))
    # then
    assert listing.context["unread"] == 1
    assert "SECRET-SUBJECT" in listing.text
    assert HIDDEN_MARK in listing.text
    assert opened.status_code == 200
    assert opened.context["line_hidden"]
    assert reverse("portal:inbox_unhide", args=[secret.public_id]) in opened.text
    assert reverse("portal:inbox_hide", args=[secret.public_id]) not in opened.text


def test_hiding_a_message_says_what_it_did(client, teen, parent):
    secret = _message(teen)
    response = _login(client, teen.user).post(
        reverse("portal:inbox_hide", args=[secret.public_id]), follow=True
    )
    assert "can no longer see this message" in response.text


def test_hiding_a_conversation_hides_the_whole_thread_and_later_messages(
    client, teen, parent
):
    # given
    thread = _thread(teen, subject="SECRET-THREAD")
    first = _message(teen, conversation=thread, subject="SECRET-1", minutes_ago=10)
    _hide(_login(client, teen.user), first)
    # when: the clinic answers in it, and the patient replies
    later = _message(teen, conversation=thread, subject="SECRET-2")
    client.post(
        reverse("portal:inbox_reply", args=[later.public_id]), {"text": "SECRET-3"}
    )
    # then
    _act_for(client, parent)
    assert "SECRET" not in client.get(reverse("portal:inbox")).text
    for message in Message.objects.filter(conversation=thread):
        url = reverse("portal:inbox_message", args=[message.public_id])
        assert client.get(url).status_code == 404


def test_replying_to_a_hidden_message_keeps_the_answer_hidden(client, teen, parent):
    """A reply puts a message outside any conversation into a new one: the
    new conversation is hidden with it."""
    # given
    secret = _message(teen, subject="SECRET-SUBJECT")
    _login(client, teen.user)
    _hide(client, secret)
    # when
    client.post(
        reverse("portal:inbox_reply", args=[secret.public_id]), {"text": "SECRET-ME"}
    )
    # then
    reply = Message.objects.get(patient=teen, direction="in")
    _act_for(client, parent)
    assert "SECRET" not in client.get(reverse("portal:inbox")).text
    url = reverse("portal:inbox_message", args=[reply.public_id])
    assert client.get(url).status_code == 404


def test_unhiding_shows_the_message_to_the_parent_again(client, teen, parent):
    # given
    thread = _thread(teen, subject="Thread")
    message = _message(teen, conversation=thread, subject="Back again")
    _message(teen, conversation=thread, subject="Other", minutes_ago=3)
    _login(client, teen.user)
    _hide(client, message)
    # when
    client.post(reverse("portal:inbox_unhide", args=[message.public_id]))
    # then
    assert not Message.objects.filter(hidden_from_proxies_at__isnull=False).exists()
    _act_for(client, parent)
    url = reverse("portal:inbox_message", args=[message.public_id])
    assert url in client.get(reverse("portal:inbox")).text
    assert client.get(url).status_code == 200


def test_a_patient_under_15_sees_no_control_and_cannot_hide(client, organization):
    # given
    child = _patient(organization, 14, "child")
    CaregiverFactory(patient=child)
    message = _message(child)
    _login(client, child.user)
    # when
    opened = client.get(reverse("portal:inbox_message", args=[message.public_id]))
    response = _hide(client, message)
    # then
    assert reverse("portal:inbox_hide", args=[message.public_id]) not in opened.text
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.hidden_from_proxies_at is None
    followed = client.get(response.url)
    assert "from the age of 15" in followed.text


def test_the_controls_are_offered_from_15(client, teen):
    message = _message(teen)
    _login(client, teen.user)
    opened = client.get(reverse("portal:inbox_message", args=[message.public_id]))
    assert reverse("portal:inbox_hide", args=[message.public_id]) in opened.text


def test_a_caregiver_cannot_hide_or_unhide_a_message(client, teen, parent):
    # given
    visible = _message(teen, subject="Visible")
    hidden = _message(teen, subject="Hidden", hidden_from_proxies_at=timezone.now())
    _act_for(client, parent)
    # when
    opened = client.get(reverse("portal:inbox_message", args=[visible.public_id]))
    hide = _hide(client, visible)
    unhide_visible = client.post(
        reverse("portal:inbox_unhide", args=[visible.public_id])
    )
    unhide = client.post(reverse("portal:inbox_unhide", args=[hidden.public_id]))
    # then
    assert reverse("portal:inbox_hide", args=[visible.public_id]) not in opened.text
    assert hide.status_code == unhide.status_code == 404
    assert unhide_visible.status_code == 404
    visible.refresh_from_db()
    hidden.refresh_from_db()
    assert visible.hidden_from_proxies_at is None
    assert hidden.hidden_from_proxies_at is not None


def test_hiding_is_in_the_admin_history_for_staff(client, teen, parent):
    # given
    thread = _thread(teen)
    message = _message(teen, conversation=thread)
    loose = _message(teen)
    _login(client, teen.user)
    # when
    _hide(client, message)
    _hide(client, loose)
    client.post(reverse("portal:inbox_unhide", args=[loose.public_id]))
    # then
    entries = LogEntry.objects.order_by("pk")
    assert [(e.object_id, e.user_id) for e in entries] == [
        (str(thread.pk), teen.user_id),
        (str(loose.pk), teen.user_id),
        (str(loose.pk), teen.user_id),
    ]
    assert "Hidden from caregivers" in entries[0].change_message
    assert "Shown to caregivers again" in entries[2].change_message


def test_the_parents_inbox_query_count_does_not_grow(client, teen, parent):
    counts = []
    for size in (3, 30):
        Message.objects.filter(patient=teen).delete()
        thread = _thread(teen)
        for n in range(size):
            message = _message(
                teen, conversation=thread if n % 2 else None, minutes_ago=n
            )
            if n % 3 == 0:
                Message.objects.filter(pk=message.pk).update(
                    hidden_from_proxies_at=timezone.now()
                )
        _act_for(client, parent)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("portal:inbox")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- the live inbox ---------------------------------------------------------


def _communicator(user, session=None):
    """A socket of a signed-in session that passed the second factor."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/inbox/")
    device = StaticDevice.objects.create(user=user, name="test", confirmed=True)
    communicator.scope["user"] = user
    communicator.scope["session"] = {
        **(session or {}),
        DEVICE_ID_SESSION_KEY: device.persistent_id,
    }
    return communicator


def _send(patient, conversation=None):
    topic = TopicFactory(
        organization=patient.organization, slug="live-care", channels=["inapp"]
    )
    if not topic.templates.exists():
        for language in ("fr", "en"):
            TemplateFactory(topic=topic, channel="inapp", language=language, body="Hi")
    return message_send(
        patient=patient,
        topic=topic,
        origin="staff",
        text="New!",
        conversation=conversation,
    )


@pytest.mark.django_db(transaction=True)
def test_a_message_in_a_hidden_conversation_is_not_pushed_to_the_parent(
    organization,
):
    # given: the teen hid a conversation; both have the inbox open
    teen = _patient(organization, 16, "teen")
    parent = CaregiverFactory(patient=teen, can_see_messages=True)
    thread = _thread(teen)
    _message(teen, conversation=thread, hidden_from_proxies_at=timezone.now())
    parents = _communicator(parent.user, {"portal_acting_for": str(teen.public_id)})
    teens = _communicator(teen.user)

    async def scenario():
        assert (await parents.connect())[0]
        assert (await teens.connect())[0]
        # when: the clinic writes in the hidden conversation
        await database_sync_to_async(_send)(teen, thread)
        # then
        to_teen = await teens.receive_json_from(timeout=5)
        to_parent = await parents.receive_nothing(timeout=0.3)
        # and a message outside it still reaches the parent, counted alone
        await database_sync_to_async(_send)(teen)
        visible = await parents.receive_json_from(timeout=5)
        await parents.disconnect()
        await teens.disconnect()
        return to_teen, to_parent, visible

    to_teen, parent_got_nothing, visible = async_to_sync(scenario)()
    assert to_teen == {"type": "message", "unread": 2}
    assert parent_got_nothing
    assert visible == {"type": "message", "unread": 1}


@pytest.mark.django_db(transaction=True)
def test_hiding_tells_the_parents_open_page_to_reread_without_it(organization):
    # given
    teen = _patient(organization, 16, "teen")
    parent = CaregiverFactory(patient=teen, can_see_messages=True)
    secret = _message(teen)
    _message(teen, subject="Other")
    parents = _communicator(parent.user, {"portal_acting_for": str(teen.public_id)})

    def hide():
        from portal.privacy import inbox_line_hide

        inbox_line_hide(
            access=PortalAccess(patient=teen),
            message=secret,
            hidden=True,
            user=teen.user,
        )

    async def scenario():
        assert (await parents.connect())[0]
        # when
        await database_sync_to_async(hide)()
        # then
        event = await parents.receive_json_from(timeout=5)
        await parents.disconnect()
        return event

    assert async_to_sync(scenario)() == {"type": "message", "unread": 1}
