"""Every writer of deliveries copies the message's organization and creation
time onto them, which the dashboard's delivery and read rates count by."""

import datetime
import importlib

import pytest
import time_machine

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clinic.services import patient_save
from insights import kpis
from insights.kpis import deliveries
from messaging.models import Delivery, Message
from messaging.services import delivery_status_update, message_send, message_send_many
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.insights import builders as b
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db
SENT = datetime.datetime(2026, 3, 31, 10, 0, tzinfo=datetime.UTC)  # in the period
FAILED = datetime.datetime(2026, 4, 1, 9, 0, tzinfo=datetime.UTC)  # after it


@pytest.fixture(autouse=True)
def _commit_at_once(on_commit_at_once):
    """Callbacks after commit run at once (tests/conftest.py)."""


@pytest.fixture
def reminders(organization):
    topic = TopicFactory(
        organization=organization, slug="reminders", channels=["inapp", "sms", "email"]
    )
    TemplateFactory(topic=topic, channel="inapp", body="RDV {{ appointment_date }}")
    TemplateFactory(topic=topic, channel="sms", body="RDV {{ appointment_date }}")
    TemplateFactory(
        topic=topic, channel="email", subject="RDV", body="RDV {{ appointment_date }}"
    )
    return topic


def _patient(organization):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )


def _copies(message: Message) -> set:
    return set(message.deliveries.values_list("organization_id", "message_created_at"))


def test_a_single_send_and_its_fallback_carry_the_message_time(organization, reminders):
    """A fallback written after the period still counts in the message's period."""
    # given
    with time_machine.travel(SENT, tick=False):
        message = message_send(
            patient=_patient(organization),
            topic=reminders,
            origin="system",
            context={"appointment_date": "12/03"},
        )
    sms = message.deliveries.get(channel="sms")
    # when: the SMS fails the next morning and the email is planned then
    with time_machine.travel(FAILED, tick=False):
        delivery_status_update(
            provider="locmem", provider_id=sms.provider_id, status="failed"
        )
    # then
    email = message.deliveries.get(channel="email")
    assert email.created_at == FAILED
    assert _copies(message) == {(organization.pk, SENT)}
    scope = kpis.Scope(organization=organization, start=b.START, end=b.END)
    figures = {f.key: f for f in deliveries.delivery_and_read_rates(scope)}
    assert figures["delivery_rate.email"].denominator == 1
    assert list(figures["delivery_rate.email"].rows) == [email]


def test_the_bulk_writer_copies_them(organization, reminders):
    """message_send_many: COPY on PostgreSQL, bulk_create elsewhere."""
    # given
    patients = [_patient(organization) for _ in range(3)]
    # when
    with time_machine.travel(FAILED, tick=False):
        message_send_many(
            patients=type(patients[0]).objects.filter(pk__in=[p.pk for p in patients]),
            topic=reminders,
            origin="campaign",
            context={"appointment_date": "12/03"},
            at=SENT,
        )
    # then
    deliveries = Delivery.objects.filter(message__patient__in=patients)
    assert deliveries.count() >= 3
    assert set(deliveries.values_list("organization_id", "message_created_at")) == {
        (organization.pk, SENT)
    }


def test_a_delivery_written_by_message_id_is_filled_from_the_message(
    organization, reminders
):
    # given
    message = b.message(_patient(organization), reminders, created_at=SENT)
    # when
    created = Delivery.objects.create(message_id=message.pk, channel="sms")
    bulk = Delivery.objects.bulk_create(
        [Delivery(message_id=message.pk, channel="email")]
    )
    # then
    for delivery in (created, *bulk):
        delivery.refresh_from_db()
        assert (delivery.organization_id, delivery.message_created_at) == (
            organization.pk,
            SENT,
        )


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_existing_deliveries(organization, reminders, monkeypatch):
    """0010 copies the fields onto the rows written before 0009, by ranges."""
    # given: deliveries as they were before the copies existed
    backfill = importlib.import_module(
        "messaging.migrations.0010_delivery_backfill_organization_message_created_at"
    )
    monkeypatch.setattr(backfill, "BATCH", 2)
    patient = _patient(organization)
    messages = [
        b.message(patient, reminders, created_at=SENT - datetime.timedelta(days=n))
        for n in range(3)
    ]
    for message in messages:
        b.delivery(message, "sms", "delivered")
        b.delivery(message, "inapp", "read")
    before = [("messaging", "0009_delivery_organization_message_created_at")]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    MigrationExecutor(connection).migrate(before)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_delivery SET organization_id = NULL, "
            "message_created_at = NULL"
        )
    # when
    MigrationExecutor(connection).migrate(latest)
    # then
    copied = Delivery.objects.values_list(
        "message_id", "organization_id", "message_created_at"
    )
    assert sorted(copied) == sorted(
        (m.pk, organization.pk, m.created_at) for m in messages for _ in range(2)
    )
