"""A must-acknowledge message climbs its ladder until the patient reads it."""

import datetime

import pytest
import time_machine

from django.core.exceptions import ValidationError

from clinic.services import patient_save
from conversations.models import Conversation
from messaging.models import Delivery
from messaging.services import (
    deliveries_requeue_due,
    message_mark_read,
    message_send,
    messages_escalate_due,
)
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
LADDER = [
    {"after_hours": 4, "channel": "sms"},
    {"after_hours": 24, "channel": "voice"},
    {"after_hours": 48, "staff": True},
]


@pytest.fixture(autouse=True)
def _commit(on_commit_at_once):
    """Callbacks after commit run at once (tests/conftest.py)."""


@pytest.fixture
def message(organization):
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )
    topic = TopicFactory(
        organization=organization,
        slug="results",
        channels=["inapp", "sms", "voice"],
        must_acknowledge=True,
        escalation_ladder=LADDER,
    )
    TemplateFactory(topic=topic, channel="inapp", body="Nouveau résultat.")
    TemplateFactory(topic=topic, channel="sms", body="Un message vous attend.")
    TemplateFactory(topic=topic, channel="voice", body="Un message vous attend.")
    from consent.services import preferences_update

    preferences_update(patient=patient, channel_order={"results": ["inapp"]})
    patient.refresh_from_db()
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        return message_send(patient=patient, topic=topic, origin="system", context={})


def statuses(message):
    return {
        d.channel: (d.status, d.reason)
        for d in Delivery.objects.filter(message=message)
    }


def test_the_ladder_waits_then_climbs(message, sms_outbox):
    assert statuses(message) == {
        "inapp": ("delivered", ""),
        "sms": ("deferred", "escalation"),
        "voice": ("deferred", "escalation"),
    }
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=4, minutes=2), tick=False
    ):
        deliveries_requeue_due()
    assert statuses(message)["sms"] == ("sent", "escalation")
    assert statuses(message)["voice"] == ("deferred", "escalation")
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=48, minutes=1), tick=False
    ):
        assert messages_escalate_due() == 1
        assert messages_escalate_due() == 0
    task = Conversation.objects.get(patient=message.patient)
    assert task.status == "open"


def test_the_staff_task_is_named_in_the_patients_language(message, sms_outbox):
    """A French patient's task reads "Pas encore lu : Résultats", never English."""
    # given
    message.topic.name_en, message.topic.name_fr = "Results", "Résultats"
    message.topic.save()
    # when
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=48, minutes=1), tick=False
    ):
        messages_escalate_due()
    # then
    task = Conversation.objects.get(patient=message.patient)
    assert message.patient.preferred_language == "fr"
    assert task.subject == "Pas encore lu : Résultats"


def test_reading_stops_the_ladder(message, sms_outbox):
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=1), tick=False
    ):
        message_mark_read(message=message)
    assert statuses(message)["sms"] == ("cancelled", "already_read")
    assert statuses(message)["voice"] == ("cancelled", "already_read")
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(hours=49), tick=False
    ):
        deliveries_requeue_due()
        assert messages_escalate_due() == 0
    assert sms_outbox == []
    assert not Conversation.objects.exists()


def test_a_ladder_must_be_ordered_and_use_the_topics_channels(organization):
    topic = TopicFactory.build(
        organization=organization,
        slug="x",
        channels=["inapp", "sms"],
        must_acknowledge=True,
        escalation_ladder=[
            {"after_hours": 4, "channel": "sms"},
            {"after_hours": 2, "channel": "sms"},
        ],
    )
    with pytest.raises(ValidationError, match="larger than the step before"):
        topic.full_clean()
    topic.escalation_ladder = [{"after_hours": 4, "channel": "voice"}]
    with pytest.raises(ValidationError, match="only use the topic's channels"):
        topic.full_clean()
    topic.escalation_ladder = []
    with pytest.raises(ValidationError, match="needs a ladder"):
        topic.full_clean()
