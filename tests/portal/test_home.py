"""The portal's home: unread messages and the next appointment, at a glance,
within what the request may see."""

import datetime

import pytest

from django.urls import reverse
from django.utils import timezone

from clinic.models import Appointment
from messaging.services import message_send
from tests.clinic.factories import AppointmentFactory, CaregiverFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db
HOME = reverse("portal:home")


def _message(patient):
    topic = TopicFactory(
        organization=patient.organization, slug="home-care", channels=["inapp"]
    )
    for language in ("fr", "en"):
        TemplateFactory(topic=topic, channel="inapp", language=language, body="Hi")
    return message_send(patient=patient, topic=topic, origin="staff", text="Hi")


def _in(days: int) -> dict:
    starts = timezone.now() + datetime.timedelta(days=days)
    return {"starts_at": starts, "ends_at": starts + datetime.timedelta(minutes=30)}


def test_the_patient_sees_unread_messages_and_the_next_appointment(
    patient_client, patient_user
):
    _, patient = patient_user
    _message(patient)
    AppointmentFactory(patient=patient, **_in(9))
    soonest = AppointmentFactory(patient=patient, **_in(2))
    AppointmentFactory(patient=patient, status=Appointment.Status.CANCELLED, **_in(1))

    response = patient_client.get(HOME)

    assert response.context["unread"] == 1
    assert response.context["next_appointment"] == soonest
    assert reverse("portal:inbox") in response.content.decode()


def test_nothing_upcoming_is_said_plainly(patient_client):
    response = patient_client.get(HOME)
    assert response.context["next_appointment"] is None
    assert response.context["unread"] == 0


def test_a_proxy_sees_only_its_scopes_and_nothing_hidden(client, patient_user):
    _, patient = patient_user
    hidden = AppointmentFactory(
        patient=patient, hidden_from_proxies_at=timezone.now(), **_in(1)
    )
    shown = AppointmentFactory(patient=patient, **_in(3))
    link = CaregiverFactory(
        user=UserFactory(username="parent"),
        patient=patient,
        can_see_messages=False,
        can_see_appointments=True,
    )
    client.force_login(link.user)
    session = client.session
    session["portal_acting_for"] = str(patient.public_id)
    session.save()

    response = client.get(HOME)

    assert response.context["next_appointment"] == shown != hidden
    assert "unread" not in response.context
    assert reverse("portal:inbox") not in response.content.decode()
