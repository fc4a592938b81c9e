"""message_send_many plans like message_send, set-wise, and never twice."""

import datetime

import pytest
import time_machine

from django.db import transaction

from clinic.models import Patient
from clinic.services import patient_save
from consent import services as consent_services
from consent.errors import ConsentError
from messaging.models import Delivery, Message
from messaging.services import message_send, message_send_many
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _noon():
    with time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def topic(organization):
    topic = TopicFactory(
        organization=organization,
        slug="flu",
        purpose="marketing",
        channels=["inapp", "sms", "email"],
    )
    TemplateFactory(
        topic=topic, channel="inapp", body="Vaccin, {{ patient_first_name }} ?"
    )
    TemplateFactory(
        topic=topic, channel="sms", body="Vaccin grippe, {{ patient_first_name }}"
    )
    TemplateFactory(
        topic=topic,
        channel="email",
        language="en",
        subject="Flu",
        body="Flu shot, {{ patient_first_name }}",
    )
    return topic


def population(organization, size):
    patients = []
    for n in range(size):
        patient = patient_save(
            patient=PatientFactory.build(
                organization=organization,
                phone="" if n % 4 == 0 else "+33612345678",
                preferred_language="en" if n % 3 == 0 else "fr",
            )
        )
        if n % 2 == 0:
            consent_services.consent_grant(
                patient=patient, purpose="marketing", source="portal"
            )
        if n % 5 == 0:
            consent_services.consent_withdraw(
                patient=patient,
                purpose="marketing",
                channel="sms",
                source="sms-keyword",
            )
        patients.append(patient)
    return patients


def outcome(message):
    return sorted(
        (d.channel, d.status, d.reason, d.body) for d in message.deliveries.all()
    )


def test_bulk_plans_what_one_by_one_plans(organization, topic, monkeypatch):
    # given
    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: None
    )
    patients = population(organization, 20)
    # when
    planned = message_send_many(
        patients=Patient.objects.for_organization(organization),
        topic=topic,
        origin="campaign",
        page_size=7,
    )
    # then
    assert planned == 20
    bulk = {m.patient_id: outcome(m) for m in Message.objects.all()}
    Message.objects.all().delete()
    single = {
        p.pk: outcome(message_send(patient=p, topic=topic, origin="campaign"))
        for p in patients
    }
    assert bulk == single
    assert any(("sms", "suppressed", "opted_out", "") in rows for rows in bulk.values())
    assert any(("sms", "suppressed", "no_opt_in", "") in rows for rows in bulk.values())


def test_bulk_is_idempotent_with_a_prefix(organization, topic, monkeypatch):
    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: None
    )
    population(organization, 5)
    audience = Patient.objects.for_organization(organization)
    assert (
        message_send_many(
            patients=audience,
            topic=topic,
            origin="campaign",
            idempotency_prefix="campaign-1",
        )
        == 5
    )
    assert (
        message_send_many(
            patients=audience,
            topic=topic,
            origin="campaign",
            idempotency_prefix="campaign-1",
        )
        == 0
    )
    assert Message.objects.count() == 5


def test_bulk_query_count_does_not_grow_with_the_audience(
    organization, topic, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(
        transaction, "on_commit", lambda fn, using=None, robust=False: None
    )
    population(organization, 40)
    with django_assert_max_num_queries(30):
        message_send_many(
            patients=Patient.objects.for_organization(organization),
            topic=topic,
            origin="campaign",
        )
    assert Delivery.objects.filter(channel="inapp").count() == 40


def test_another_organizations_patient_is_refused_and_nothing_written(
    organization, topic
):
    stranger = PatientFactory(organization=OrganizationFactory(slug="far-away"))
    with pytest.raises(ConsentError, match="another organization"):
        message_send_many(
            patients=Patient.objects.filter(pk=stranger.pk),
            topic=topic,
            origin="campaign",
        )
    assert not Message.objects.exists()
