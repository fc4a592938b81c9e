"""Shared by the proxy-privacy tests (tests/portal/test_proxy_privacy*.py)."""

import datetime

from django.urls import reverse
from django.utils import timezone

from conversations.models import Conversation
from messaging.models import Delivery, Message
from tests.clinic.factories import (
    PatientFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory

HIDDEN_MARK = "badge-private"


def _born(age: int) -> datetime.date:
    """A birth date giving ``age`` on any day of this year."""
    return datetime.date(timezone.localdate().year - age, 1, 1)


def _patient(organization, age: int, username: str):
    return PatientFactory(
        organization=organization,
        user=UserFactory(username=username),
        birth_date=_born(age),
        preferred_language="en",
    )


def _login(client, user):
    client.logout()
    client.force_login(user)
    return client


def _act_for(client, caregiver):
    _login(client, caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    return client


def _message(patient, *, conversation=None, subject="Hello", minutes_ago=0, **kw):
    topic = TopicFactory(
        organization=patient.organization, slug="t-care", purpose="care"
    )
    message = Message.objects.create(
        organization=patient.organization,
        patient=patient,
        topic=topic,
        conversation=conversation,
        origin="staff",
        sensitivity="confidential",
        language="en",
        subject=subject,
        body=f"Body of {subject}",
        why={"purpose": "care", "lawful_basis": "care", "consent_event_id": None},
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        **kw,
    )
    Delivery.objects.create(message=message, channel="inapp", status="delivered")
    return message


def _thread(patient, subject="Thread"):
    return Conversation.objects.create(
        organization=patient.organization, patient=patient, subject=subject
    )


def _hide(client, message):
    return client.post(reverse("portal:inbox_hide", args=[message.public_id]))


def _message_urls(message):
    args = [message.public_id]
    return [
        ("get", reverse("portal:inbox_message", args=args)),
        ("post", reverse("portal:inbox_reply", args=args)),
        ("post", reverse("portal:inbox_mark_read", args=args)),
        ("post", reverse("portal:inbox_object", args=args)),
    ]
