"""Inbox messages and conversations made directly, as the inbox pages
read them (no send pipeline)."""

import datetime

from django.utils import timezone

from conversations.models import Conversation
from messaging.models import Delivery, Message
from tests.consent.factories import TopicFactory


def inbox_message(patient, *, purpose="care", conversation=None, minutes_ago=0, **kw):
    topic = TopicFactory(
        organization=patient.organization, slug=f"t-{purpose}", purpose=purpose
    )
    values = {
        "organization": patient.organization,
        "patient": patient,
        "topic": topic,
        "conversation": conversation,
        "origin": "staff",
        "sensitivity": "public",
        "language": "fr",
        "subject": "Hello",
        "body": "Body text",
        "why": {
            "purpose": purpose,
            "lawful_basis": "care" if purpose == "care" else "consent",
            "consent_event_id": None,
        },
        "created_at": timezone.now() - datetime.timedelta(minutes=minutes_ago),
    }
    values.update(kw)
    message = Message.objects.create(**values)
    Delivery.objects.create(message=message, channel="inapp", status="delivered")
    return message


def conversation_for(patient, subject="Thread"):
    return Conversation.objects.create(
        organization=patient.organization, patient=patient, subject=subject
    )
