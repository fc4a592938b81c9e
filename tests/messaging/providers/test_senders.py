"""Outbound: each clinic's SMS and calls leave from its own sender identity,
on its own provider account when it has one."""

import dataclasses

import pytest
import time_machine

from django.test import override_settings

from clinic.services import patient_save
from messaging.backends.sms.failover import SmsBackend as FailoverBackend
from messaging.models import Delivery, Message, SenderIdentity
from messaging.senders.services import sender_identity_save
from messaging.services import message_send
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.messaging.providers.fakes import (
    SINCH_APP_SECRET,
    SINCH_KEY,
    SINCH_NUMBER,
    SINCH_PLAN,
    SINCH_SMS,
    SINCH_TOKEN,
    SINCH_VOICE,
    TWILIO_NUMBER,
    TWILIO_SID,
    TWILIO_SMS,
    TWILIO_TOKEN,
    TWILIO_VOICE,
    basic_auth,
    form,
    sinch_post,
    twilio_post,
)
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db
B_SID, B_TOKEN = "AC" + "b" * 32, "riverside-own-token"
B_PLAN, B_SINCH_TOKEN = "planB", "riverside-sinch-token"
B_NUMBER = "+12125550190"
PHONE_B = "+12125550123"


@pytest.fixture
def clinic_b(other_organization):
    """Riverside: its own Twilio account and Sinch service plan, secrets
    stored encrypted, and a patient."""
    for provider, account, secret in (
        ("twilio", B_SID, B_TOKEN),
        ("sinch", B_PLAN, B_SINCH_TOKEN),
    ):
        sender_identity_save(
            identity=SenderIdentity(
                organization=other_organization,
                provider=provider,
                phone_number=B_NUMBER,
                account_id=account,
            ),
            secret=secret,
        )
    return patient_save(
        patient=PatientFactory.build(organization=other_organization, phone=PHONE_B)
    )


@pytest.fixture
def delivery_of(care_topic):
    """A queued delivery to ``patient`` (of any organization)."""

    def make(patient, channel="sms", body="RDV demain."):
        topic = care_topic
        if patient.organization_id != care_topic.organization_id:
            topic = TopicFactory(organization=patient.organization, slug="care-b")
        message = Message.objects.create(
            organization_id=patient.organization_id,
            patient=patient,
            topic=topic,
            origin=Message.Origin.SYSTEM,
            sensitivity="public",
            language="fr",
            body=body,
            free_text=True,
        )
        return Delivery.objects.create(
            message=message, channel=channel, address=str(patient.phone), body=body
        )

    return make


def by_path(httpserver) -> dict[str, object]:
    return {request.path: request for request, _ in httpserver.log}


def b_path(provider) -> str:
    return provider.path.replace(TWILIO_SID, B_SID).replace(SINCH_PLAN, B_PLAN)


def accept_b_too(httpserver, provider) -> None:
    """The fake provider accepts on the platform's account and on B's."""
    provider.accept(httpserver)
    dataclasses.replace(provider, path=b_path(provider)).accept(httpserver)


@pytest.mark.parametrize("provider", [TWILIO_SMS, TWILIO_VOICE])
def test_twilio_sends_each_clinics_sms_and_calls_from_its_own_identity(
    httpserver,
    backend_for,
    patient,
    clinic_b,
    delivery_of,
    provider,
    django_assert_num_queries,
):
    """One batch mixing two clinics: each request leaves from the clinic's
    number, on its account and with its credentials (B's stored token,
    decrypted); the identities are read in one query before any thread."""
    # given
    accept_b_too(httpserver, provider)
    channel = "voice" if provider is TWILIO_VOICE else "sms"
    deliveries = [delivery_of(patient, channel), delivery_of(clinic_b, channel)]
    backend = backend_for(provider, concurrency=2)
    # when
    with django_assert_num_queries(1):
        results = backend.send_many(deliveries)
    # then
    assert all(r.ok for r in results), [r.error for r in results]
    sent = by_path(httpserver)
    a, b = sent[provider.path], sent[b_path(provider)]
    assert (form(a)["From"], form(a)["To"]) == (TWILIO_NUMBER, "+33612345678")
    assert a.headers["Authorization"] == basic_auth(TWILIO_SID, TWILIO_TOKEN)
    assert (form(b)["From"], form(b)["To"]) == (B_NUMBER, PHONE_B)
    assert b.headers["Authorization"] == basic_auth(B_SID, B_TOKEN)


def test_sinch_sends_each_clinics_sms_from_its_identity_on_its_service_plan(
    httpserver, backend_for, patient, clinic_b, delivery_of
):
    # given
    accept_b_too(httpserver, SINCH_SMS)
    # when
    results = backend_for(SINCH_SMS, concurrency=2).send_many(
        [delivery_of(patient), delivery_of(clinic_b)]
    )
    # then
    assert all(r.ok for r in results)
    sent = by_path(httpserver)
    a, b = sent[SINCH_SMS.path], sent[b_path(SINCH_SMS)]
    assert a.get_json()["from"] == SINCH_NUMBER
    assert a.headers["Authorization"] == f"Bearer {SINCH_TOKEN}"
    assert b.get_json()["from"] == B_NUMBER
    assert b.headers["Authorization"] == f"Bearer {B_SINCH_TOKEN}"


def test_sinch_calls_show_each_clinics_number(
    httpserver, backend_for, patient, clinic_b, delivery_of
):
    # given
    SINCH_VOICE.accept(httpserver)
    # when
    backend_for(SINCH_VOICE).send_many(
        [delivery_of(patient, "voice"), delivery_of(clinic_b, "voice")]
    )
    # then
    callers = {
        r.get_json()["ttsCallout"]["destination"]["endpoint"]: (
            r.get_json()["ttsCallout"]["cli"],
            r.headers["Authorization"],
        )
        for r, _ in httpserver.log
    }
    auth = basic_auth(SINCH_KEY, SINCH_APP_SECRET)  # the platform's application
    assert callers == {"+33612345678": (SINCH_NUMBER, auth), PHONE_B: (B_NUMBER, auth)}


@pytest.mark.parametrize("provider", [TWILIO_SMS, TWILIO_VOICE, SINCH_SMS, SINCH_VOICE])
def test_an_organization_without_identity_fails_with_no_sender(
    httpserver, backend_for, delivery_of, care_topic, provider
):
    """Permanent, with a code that says why; nothing reaches the provider."""
    # given
    lonely = patient_save(
        patient=PatientFactory.build(
            organization=OrganizationFactory(slug="lonely"), phone="+33611111111"
        )
    )
    channel = "voice" if "voice" in provider.name else "sms"
    # when
    (result,) = backend_for(provider).send_many([delivery_of(lonely, channel)])
    # then
    assert (result.error.permanent, result.error.code) == (True, "no_sender")
    assert httpserver.log == []


def test_a_clinic_without_identity_falls_back_and_the_log_says_why(
    httpserver, django_capture_on_commit_callbacks
):
    """The SMS fails as no_sender and the next channel (email) takes over."""
    # given
    organization = OrganizationFactory(slug="no-number")
    topic = TopicFactory(
        organization=organization, slug="care", channels=["inapp", "sms", "email"]
    )
    for channel in ("sms", "email"):
        TemplateFactory(topic=topic, channel=channel, subject="RDV", body="RDV demain")
    patient = patient_save(
        patient=PatientFactory.build(
            organization=organization, phone="+33611111111", email="p@example.org"
        )
    )
    backends = {
        "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
        "sms": TWILIO_SMS.config(httpserver.url_for("").rstrip("/")),
        "email": {"BACKEND": "messaging.backends.locmem.Backend"},
    }
    # when
    with (
        override_settings(MESSAGING_BACKENDS=backends),
        time_machine.travel(WEEKDAY_NOON_PARIS, tick=False),
        # the delivery task runs after the commit, as a worker would
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = message_send(patient=patient, topic=topic, origin="system")
    # then
    sms = message.deliveries.get(channel="sms")
    assert (sms.status, sms.reason, sms.error_code) == (
        "failed",
        "no_sender",
        "no_sender",
    )
    assert sms.reason_label == (
        "The organization has no sender identity for this provider"
    )
    assert message.deliveries.get(channel="email").status == "sent"
    assert httpserver.log == []


def test_failover_sends_a_clinic_without_primary_identity_through_the_secondary(
    httpserver, patient, senders, delivery_of
):
    # given: Twilio primary, Sinch secondary; the clinic has only Sinch
    senders["twilio"].delete()
    SINCH_SMS.accept(httpserver)
    url = httpserver.url_for("").rstrip("/")
    backend = FailoverBackend(
        channel="sms", primary=TWILIO_SMS.config(url), secondary=SINCH_SMS.config(url)
    )
    # when
    (result,) = backend.send_many([delivery_of(patient)])
    # then
    assert (result.ok, result.provider) == (True, "sinch")
    ((request, _),) = httpserver.log
    assert request.get_json()["from"] == SINCH_NUMBER


def test_failover_keeps_a_retryable_primary_failure_when_the_secondary_has_no_identity(
    httpserver, patient, senders, delivery_of
):
    # given: Twilio answers 503; the clinic has no Sinch identity
    senders["sinch"].delete()
    TWILIO_SMS.refuse(httpserver, 503, "503")
    url = httpserver.url_for("").rstrip("/")
    backend = FailoverBackend(
        channel="sms", primary=TWILIO_SMS.config(url), secondary=SINCH_SMS.config(url)
    )
    # when
    (result,) = backend.send_many([delivery_of(patient)])
    # then: retried later through Twilio, not failed for good
    assert (result.provider, result.error.code, result.error.permanent) == (
        "twilio",
        "503",
        False,
    )


def test_twilio_reconciles_on_the_clinics_account_by_its_from_number(
    httpserver, backend_for, clinic_b, delivery_of
):
    # given
    delivery = delivery_of(clinic_b)
    httpserver.expect_request(
        b_path(TWILIO_SMS),
        method="GET",
        query_string={"To": PHONE_B, "From": B_NUMBER, "PageSize": "50"},
    ).respond_with_json(
        {
            "messages": [
                {
                    "sid": "SMb",
                    "body": delivery.body,
                    "date_created": "Tue, 31 Dec 2099 09:00:00 +0000",
                }
            ]
        }
    )
    # when
    found = backend_for(TWILIO_SMS).reconcile([delivery])
    # then
    assert found == {delivery.pk: "SMb"}
    ((request, _),) = httpserver.log
    assert request.headers["Authorization"] == basic_auth(B_SID, B_TOKEN)


def test_a_sinch_keyword_reply_leaves_from_the_number_the_patient_texted(
    client, httpserver, clinic_b, django_capture_on_commit_callbacks
):
    # given
    TopicFactory(organization=clinic_b.organization, slug="care", purpose="care")
    accept_b_too(httpserver, SINCH_SMS)
    sinch = SINCH_SMS.config(httpserver.url_for("").rstrip("/"))
    payload = {
        "type": "mo_text",
        "id": "01STOPB",
        "from": PHONE_B.lstrip("+"),
        "to": B_NUMBER.lstrip("+"),
        "body": "STOP",
    }
    # when
    with (
        override_settings(MESSAGING_BACKENDS={"sms": sinch}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = sinch_post(client, "/webhooks/sinch/inbound", payload)
    # then
    assert response.status_code == 200
    ((request, _),) = httpserver.log
    assert request.path == b_path(SINCH_SMS)
    assert request.headers["Authorization"] == f"Bearer {B_SINCH_TOKEN}"
    assert (request.get_json()["from"], request.get_json()["to"]) == (
        B_NUMBER,
        [PHONE_B],
    )


def test_twilio_webhooks_of_a_clinics_own_account_are_checked_with_its_token(
    client, clinic_b
):
    """Twilio signs with the token of the account the number belongs to: the
    one B stores (encrypted) verifies B's account's webhooks, no other."""
    # given
    TopicFactory(organization=clinic_b.organization, slug="care", purpose="care")
    data = {
        "MessageSid": "SMb1",
        "AccountSid": B_SID,
        "From": PHONE_B,
        "To": B_NUMBER,
        "Body": "Hello",
    }
    path = "/webhooks/twilio/inbound"
    # when
    accepted = twilio_post(client, path, data, token=B_TOKEN)
    on_another_account = twilio_post(
        client, path, data | {"AccountSid": TWILIO_SID}, token=B_TOKEN
    )
    forged = twilio_post(client, path, data | {"MessageSid": "SMb2"}, token="x")
    # then
    assert (accepted.status_code, on_another_account.status_code) == (200, 403)
    assert forged.status_code == 403
    assert Message.objects.get().patient == clinic_b
