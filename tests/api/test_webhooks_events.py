"""Domain changes become signed webhook deliveries: one per event and
subscription, with ids, statuses and reasons only, and only once committed."""

import pytest
from werkzeug import Response

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from api.models import WebhookDelivery
from clinic.appointments.actions import appointment_cancel, appointment_confirm
from clinic.services import appointment_save, patient_save
from consent.services import consent_record
from messaging.inbound import inbound_sms_receive
from messaging.models import Delivery, Message, SenderIdentity
from messaging.services import (
    deliveries_process,
    delivery_status_update,
    message_send,
    message_send_many,
)
from messaging.services.replies import message_reply
from tests.api.webhooks_support import received, subscribe
from tests.clinic.factories import AppointmentFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

# Sends expect their deliveries queued, not deferred by quiet hours.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("daytime")]


def only_body(httpserver, secret):
    bodies = received(httpserver, secret)
    assert len(bodies) == 1, bodies
    return bodies[0]


def test_appointment_confirmed_is_sent_signed(httpserver, hook, send_on_commit):
    subscription, secret = hook
    appointment = AppointmentFactory(patient__organization=subscription.organization)
    with send_on_commit():
        appointment_confirm(appointment=appointment)
    body = only_body(httpserver, secret)
    request = httpserver.log[0][0]
    delivery = WebhookDelivery.objects.get()
    assert request.headers["Liaison-Event"] == "appointment.confirmed"
    assert request.headers["Liaison-Delivery"] == str(delivery.public_id)
    assert request.headers["Content-Type"] == "application/json"
    assert body["type"] == "appointment.confirmed"
    assert body["data"] == {
        "appointment": str(appointment.public_id),
        "patient": str(appointment.patient.public_id),
        "external_id": appointment.external_id,
        "status": "confirmed",
        "starts_at": appointment.starts_at.isoformat().replace("+00:00", "Z"),
    }
    assert delivery.status == "delivered"
    assert delivery.response_code == 200
    assert delivery.attempts == 1


def test_appointment_cancelled_carries_no_reason_text(httpserver, hook, send_on_commit):
    subscription, secret = hook
    appointment = AppointmentFactory(patient__organization=subscription.organization)
    with send_on_commit():
        appointment_cancel(appointment=appointment, reason="my chemotherapy moved")
    body = only_body(httpserver, secret)
    assert body["type"] == "appointment.cancelled"
    assert body["data"]["status"] == "cancelled"
    assert "chemotherapy" not in httpserver.log[0][0].get_data(as_text=True)


def test_a_status_set_by_staff_emits_once_not_on_every_save(
    httpserver, hook, send_on_commit
):
    subscription, secret = hook
    appointment = AppointmentFactory(patient__organization=subscription.organization)
    with send_on_commit():
        appointment.status = "cancelled"
        appointment_save(appointment=appointment)
        appointment.kind = "follow-up"
        appointment_save(appointment=appointment)  # still cancelled: no event
        AppointmentFactory(patient=appointment.patient)  # booked: no event
    assert [b["type"] for b in received(httpserver, secret)] == [
        "appointment.cancelled"
    ]


def test_consent_changed(httpserver, hook, send_on_commit):
    subscription, secret = hook
    patient = PatientFactory(organization=subscription.organization)
    with send_on_commit():
        event = consent_record(
            patient=patient,
            granted=False,
            source="portal",
            purpose="marketing",
            channel="sms",
            evidence={"note": "asked at the desk"},
        )
    body = only_body(httpserver, secret)
    assert body["type"] == "consent.changed"
    assert body["data"] == {
        "consent": str(event.public_id),
        "patient": str(patient.public_id),
        "granted": False,
        "purpose": "marketing",
        "topic": None,
        "channel": "sms",
        "source": "portal",
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
    }


@pytest.fixture
def care_topic(organization):
    topic = TopicFactory(
        organization=organization,
        slug="care",
        purpose="care",
        channels=["inapp", "sms"],
    )
    TemplateFactory(topic=topic, channel="inapp", body="Hello")
    TemplateFactory(topic=topic, channel="sms", body="Hello")
    return topic


@pytest.fixture
def mobile_patient(organization):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )


def test_message_received_from_the_portal_has_no_text(
    httpserver, hook, send_on_commit, care_topic, mobile_patient
):
    _subscription, secret = hook
    question = message_send(patient=mobile_patient, topic=care_topic, origin="staff")
    httpserver.clear_log()
    with send_on_commit():
        reply = message_reply(
            patient=mobile_patient, message=question, text="My results worry me"
        )
    bodies = [
        b for b in received(httpserver, secret) if b["type"] != "delivery.updated"
    ]
    assert len(bodies) == 1
    reply.refresh_from_db()
    assert bodies[0]["data"] == {
        "message": str(reply.public_id),
        "patient": str(mobile_patient.public_id),
        "conversation": str(reply.conversation.public_id),
        "channel": "inapp",
        "received_at": reply.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert "results" not in httpserver.log[-1][0].get_data(as_text=True)


def test_message_received_by_sms_once_despite_provider_retries(
    httpserver, hook, send_on_commit, care_topic, mobile_patient
):
    _subscription, secret = hook
    SenderIdentity.objects.create(
        organization=mobile_patient.organization,
        provider="twilio",
        phone_number="+33700000001",
    )
    with send_on_commit():
        for _ in range(2):  # the provider retries its webhook
            inbound_sms_receive(
                provider="twilio",
                to_number="+33700000001",
                from_number="+33612345678",
                text="Is my test positive?",
                provider_message_id="SM1",
            )
    body = only_body(httpserver, secret)
    message = Message.objects.get(direction="in")
    assert body["type"] == "message.received"
    assert body["data"]["message"] == str(message.public_id)
    assert body["data"]["channel"] == "sms"


def test_delivery_updated_when_workers_send(
    httpserver, hook, send_on_commit, care_topic, mobile_patient
):
    _subscription, secret = hook
    with send_on_commit():
        message = message_send(patient=mobile_patient, topic=care_topic, origin="api")
    bodies = received(httpserver, secret)
    statuses = {b["data"]["channel"]: b["data"] for b in bodies}
    assert {b["type"] for b in bodies} == {"delivery.updated"}
    assert statuses["inapp"]["status"] == "delivered"
    assert statuses["sms"] == {
        "message": str(message.public_id),
        "patient": str(mobile_patient.public_id),
        "channel": "sms",
        "status": "sent",
        "reason": "",
        "error_code": "",
    }


def test_delivery_updated_on_a_provider_callback(
    httpserver, hook, send_on_commit, care_topic, mobile_patient
):
    _subscription, secret = hook
    with send_on_commit():
        message = message_send(patient=mobile_patient, topic=care_topic, origin="api")
    sms = message.deliveries.get(channel="sms")
    Delivery.objects.filter(pk=sms.pk).update(provider="twilio", provider_id="SM9")
    httpserver.clear_log()
    with send_on_commit():
        delivery_status_update(provider="twilio", provider_id="SM9", status="delivered")
        # A duplicate callback changes nothing and sends nothing.
        delivery_status_update(provider="twilio", provider_id="SM9", status="delivered")
    body = only_body(httpserver, secret)
    assert body["data"]["status"] == "delivered"
    assert body["data"]["channel"] == "sms"


def test_planning_emits_nothing_only_workers_do(
    hook, care_topic, mobile_patient, organization
):
    """A campaign plans its deliveries without one webhook write; the events
    come as workers send."""
    PatientFactory.create_batch(3, organization=organization)
    message_send(patient=mobile_patient, topic=care_topic, origin="api")
    message_send_many(
        patients=organization.patients.all(), topic=care_topic, origin="campaign"
    )
    assert Delivery.objects.count() > 4
    assert not WebhookDelivery.objects.exists()


def test_one_subscription_lookup_per_worker_batch(hook, care_topic, organization):
    """Receivers look up subscriptions once per batch, not once per delivery."""
    patients = [
        patient_save(
            patient=PatientFactory.build(
                organization=organization, phone=f"+3361234567{i}"
            )
        )
        for i in range(6)
    ]
    ids = [
        d.pk
        for p in patients
        for d in message_send(
            patient=p, topic=care_topic, origin="api"
        ).deliveries.all()
    ]
    with CaptureQueriesContext(connection) as queries:
        deliveries_process(ids)
    assert WebhookDelivery.objects.count() == 12
    lookups = [q for q in queries if 'FROM "api_webhooksubscription"' in q["sql"]]
    assert len(lookups) == 1


def test_no_subscriber_no_rows_and_other_events_ignored(
    httpserver, organization, send_on_commit
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscribe(organization, httpserver.url_for("/hook"), events=["consent.changed"])
    appointment = AppointmentFactory(patient__organization=organization)
    with send_on_commit():
        appointment_confirm(appointment=appointment)
    assert not WebhookDelivery.objects.exists()
    assert httpserver.log == []


def test_another_organization_gets_nothing(
    httpserver, other_organization, send_on_commit
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    subscribe(other_organization, httpserver.url_for("/hook"))
    appointment = AppointmentFactory()
    with send_on_commit():
        appointment_confirm(appointment=appointment)
    assert not WebhookDelivery.objects.exists()


def test_a_rolled_back_change_emits_nothing(
    httpserver, hook, send_on_commit, organization
):
    appointment = AppointmentFactory(patient__organization=organization)

    def confirm_then_fail():
        with transaction.atomic():
            appointment_confirm(appointment=appointment)
            assert WebhookDelivery.objects.count() == 1  # the outbox row…
            raise RuntimeError("the caller fails after the change")

    with send_on_commit() as callbacks, pytest.raises(RuntimeError):
        confirm_then_fail()
    assert not WebhookDelivery.objects.exists()  # …gone with the change
    assert callbacks == []
    assert httpserver.log == []


def test_an_inactive_subscription_gets_nothing(httpserver, hook, send_on_commit):
    subscription, _secret = hook
    subscription.is_active = False
    subscription.save()
    appointment = AppointmentFactory(patient__organization=subscription.organization)
    with send_on_commit():
        appointment_confirm(appointment=appointment)
    assert httpserver.log == []
    assert not WebhookDelivery.objects.exists()


def test_a_receiver_answer_body_is_not_kept(httpserver, organization, send_on_commit):
    httpserver.expect_request("/hook").respond_with_response(
        Response("secret stuff", status=500)
    )
    subscribe(organization, httpserver.url_for("/hook"))
    appointment = AppointmentFactory(patient__organization=organization)
    with send_on_commit():
        appointment_confirm(appointment=appointment)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.response_code == 500
    assert "secret stuff" not in delivery.error
