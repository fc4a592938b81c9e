"""Factories and helpers shared by the reminder tests (tests/outreach/test_reminders*.py)."""

import datetime

import factory
from factory.django import DjangoModelFactory

from clinic.services import appointment_save, patient_save
from outreach.reminders.models import ReminderRule
from tests.clinic.factories import AppointmentFactory, PatientFactory, SiteFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

SMS_FR = (
    "{{ organization_name }} : RDV le {{ appointment_date }} à "
    "{{ appointment_time }}. Répondez C pour confirmer, A pour annuler. "
    "{{ confirm_link }}"
)
SMS_EN = (
    "{{ organization_name }}: appointment on {{ appointment_date }} at "
    "{{ appointment_time }}. Reply C to confirm, A to cancel. {{ confirm_link }}"
)


class ReminderRuleFactory(DjangoModelFactory):
    class Meta:
        model = ReminderRule

    organization = factory.SubFactory("tests.clinic.factories.OrganizationFactory")
    name = factory.Sequence(lambda n: f"Rule {n}")
    offsets = "48h"
    topic = factory.SubFactory(
        TopicFactory,
        organization=factory.SelfAttribute("..organization"),
        slug="appointment-reminders",
    )


def reminder_topic(organization):
    """The care topic of reminders, with SMS, voice and inbox templates in
    French and English."""
    topic = TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        channels=["inapp", "sms", "voice", "email"],
    )
    for language, sms in (("fr", SMS_FR), ("en", SMS_EN)):
        TemplateFactory(topic=topic, channel="sms", language=language, body=sms)
        TemplateFactory(
            topic=topic,
            channel="voice",
            language=language,
            body="{{ organization_name }} {{ appointment_date }} {{ appointment_time }}",
        )
        TemplateFactory(
            topic=topic,
            channel="inapp",
            language=language,
            body="{{ appointment_date }} {{ appointment_time }} {{ site_name }}",
        )
    return topic


def sms_patient(organization, **fields):
    """A patient with a mobile number (saved through the service, which
    derives that the number takes SMS)."""
    fields.setdefault("phone", "+33612345678")
    return patient_save(
        patient=PatientFactory.build(organization=organization, **fields)
    )


def book(patient, starts_at: datetime.datetime, **fields):
    """An appointment saved through clinic's service (so the signal fires)."""
    site = fields.pop("site", None) or SiteFactory(organization=patient.organization)
    appointment = AppointmentFactory.build(
        patient=patient,
        organization=patient.organization,
        site=site,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        **fields,
    )
    return appointment_save(appointment=appointment)
