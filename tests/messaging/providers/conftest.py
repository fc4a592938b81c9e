import logging

import pytest

from django.test import override_settings
from django.utils.module_loading import import_string

from clinic.services import patient_save
from messaging.models import Delivery, Message, SenderIdentity
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.providers.fakes import (
    SINCH_NUMBER,
    SINCH_SMS,
    TWILIO_NUMBER,
    TWILIO_SMS,
)


@pytest.fixture
def failover_providers(httpserver):
    """Twilio first, Sinch second, both at the fake provider (their secrets
    check the webhooks)."""
    url = httpserver.url_for("").rstrip("/")
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": {
            "BACKEND": "messaging.backends.sms.failover.SmsBackend",
            "OPTIONS": {
                "primary": TWILIO_SMS.config(url),
                "secondary": SINCH_SMS.config(url),
            },
        },
    }
    with override_settings(MESSAGING_BACKENDS=backends):
        yield


@pytest.fixture
def senders(organization):
    """The organization's sender identities: Twilio and Sinch numbers on the
    platform's accounts (the fakes' credentials)."""
    return {
        provider: SenderIdentity.objects.create(
            organization=organization, provider=provider, phone_number=number
        )
        for provider, number in (("twilio", TWILIO_NUMBER), ("sinch", SINCH_NUMBER))
    }


@pytest.fixture
def patient(organization, senders):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )


@pytest.fixture
def care_topic(organization):
    return TopicFactory(
        organization=organization,
        slug="reminders",
        channels=["inapp", "sms", "voice", "email"],
    )


@pytest.fixture
def make_delivery(patient, care_topic):
    """A queued delivery row, as the planner writes it."""

    def make(channel="sms", body="RDV demain à 10h.", language=None, address=None):
        message = Message.objects.create(
            organization_id=patient.organization_id,
            patient=patient,
            topic=care_topic,
            origin=Message.Origin.SYSTEM,
            sensitivity="public",
            language=language or patient.preferred_language,
            body=body,
            free_text=True,
        )
        return Delivery.objects.create(
            message=message,
            channel=channel,
            address=address or str(patient.phone),
            body=body,
        )

    return make


@pytest.fixture
def backend_for(httpserver):
    """A provider backend pointed at the local fake provider."""

    def make(provider, base_url=None, **overrides):
        config = provider.config(base_url or httpserver.url_for("").rstrip("/"))
        channel = "voice" if "voice" in provider.backend else "sms"
        return import_string(config["BACKEND"])(
            channel=channel, **(config["OPTIONS"] | overrides)
        )

    return make


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_records():
    """Every log record emitted during the test (the suite runs with
    ``-p no:logging``, so ``caplog`` is not there)."""
    handler = _ListHandler()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)
