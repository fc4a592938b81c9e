"""Codes and single-use links never reach staff: a real security code is sent
through the pipeline, then every admin page, the conversation desk, the
insights drill-downs, the API, FHIR and the exports are searched for it; and
the stored bodies lose it once the delivery is final or the code expires."""

import datetime
import re

import pytest
import time_machine

from django.contrib import admin
from django.db import connection
from django.urls import NoReverseMatch, reverse

from api.keys import api_key_create
from api.scopes import Scope
from consent.models import PatientPreferences, Topic
from conversations.models import Conversation
from messaging.models import Delivery, Message, OutboxEntry
from messaging.redaction import MASK
from messaging.services.redaction import message_secrets_expire
from portal.auth.devices import SmsCodeDevice
from tests.clinic.factories import PatientFactory, UserFactory
from tests.consent.factories import TopicFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture
def patient(organization):
    patient = PatientFactory(
        organization=organization,
        user=UserFactory(username="camille"),
        phone_is_mobile=True,
    )
    TopicFactory(
        organization=organization,
        slug="security-codes",
        purpose="security",
        channels=["email", "sms"],
    )
    PatientPreferences.objects.create(
        patient=patient,
        email_verified_at=WEEKDAY_NOON_PARIS,
        phone_verified_at=WEEKDAY_NOON_PARIS,
    )
    return patient


@pytest.fixture
def code(patient, sms_outbox, django_capture_on_commit_callbacks) -> str:
    """A code sent by SMS through the whole pipeline; the patient got it."""
    device = SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    with django_capture_on_commit_callbacks(execute=True):
        device.generate_challenge()
    device.refresh_from_db()
    assert device.token in sms_outbox[-1]["body"]  # the backend had the real text
    return device.token


def stored_text() -> str:
    """Every text column of messages, deliveries and the outbox, as stored."""
    with connection.cursor() as cursor:
        texts = []
        for table in (
            "messaging_message",
            "messaging_delivery",
            "messaging_outboxentry",
        ):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
            texts += [str(value) for row in cursor.fetchall() for value in row]
    return " ".join(texts)


def admin_pages() -> list[str]:
    """The changelist of every registered model and the change page of each of
    its rows (the test database holds only what this test made)."""
    pages = []
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        try:
            pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        if not model._meta.managed:  # a page without rows (the dashboard)
            continue
        for pk in model._default_manager.values_list("pk", flat=True)[:50]:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[pk]))
    return pages


def test_a_code_is_on_no_staff_page_api_or_export(
    client, superuser, patient, code, organization
):
    # given: a conversation with the patient, whose desk lists their messages
    conversation = Conversation.objects.create(
        organization=organization, patient=patient, subject="Question"
    )
    message = Message.objects.get(patient=patient)
    client.force_login(superuser)
    # when: every staff page is read
    pages = admin_pages()
    desk = reverse("admin:conversations_conversation_thread", args=[conversation.pk])
    pages.append(desk)
    insights = (
        reverse("admin:insights_dashboard_changelist")
        + f"?start=2026-03-01&end=2026-03-31&organization={organization.pk}"
    )
    dashboard = client.get(insights).content.decode()
    # Each figure's rows and its CSV, the whole dashboard's CSV.
    drill_downs = {
        link.replace("&amp;", "&")
        for link in re.findall(r'href="([^"]*(?:/rows/|export\.csv)[^"]*)"', dashboard)
    }
    pages += [insights, *drill_downs]
    shown = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code < 500, url
        shown[url] = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
    privacy = reverse("admin:consent_patientprivacy_changelist")
    for action in ("download_json", "download_fhir"):
        shown[action] = client.post(
            privacy, {"action": action, "_selected_action": [patient.pk]}
        ).content
    # then
    leaks = [url for url, body in shown.items() if code.encode() in body]
    assert leaks == []
    # and: the desk did list the message, with the code masked
    assert MASK in shown[desk].decode()
    assert drill_downs  # the insights drill-downs were reached
    # and: the partner API and FHIR
    _key, raw = api_key_create(
        organization=organization, name="EHR", scopes=list(Scope.values)
    )
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    for url in (
        f"/api/v1/messages/?patient={patient.public_id}",
        f"/api/v1/messages/{message.public_id}/",
        f"/fhir/r4/Communication?patient=Patient/{patient.public_id}",
        f"/fhir/r4/Communication/{message.public_id}",
    ):
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        assert code not in response.content.decode(), url
    # and: the patient's own export holds no live code either
    client.force_login(patient.user)
    for url in ("/portal/data/export.json", "/portal/data/export.fhir.json"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        assert code.encode() not in body, url


def test_stored_bodies_lose_the_code_once_sent_and_the_rest_at_expiry(
    patient, code, settings
):
    # then: sent, so the delivery's copy is gone; the message's stays for a
    # fallback, shown to nobody
    delivery = Delivery.objects.get(message__patient=patient, channel="sms")
    assert delivery.status == Delivery.Status.SENT
    message = delivery.message
    assert code not in message.body
    assert code not in delivery.body
    assert MASK in message.body
    assert MASK in delivery.body
    assert delivery.secret_body == ""
    assert code in message.secret_body
    # when: the code expires and the sweep runs
    later = WEEKDAY_NOON_PARIS + datetime.timedelta(
        seconds=settings.OTP_CODE_VALIDITY + 1
    )
    assert message_secrets_expire(now=WEEKDAY_NOON_PARIS) == 0
    with time_machine.travel(later, tick=False):
        assert message_secrets_expire() == 1
    # then: the code is nowhere in what is stored
    assert code not in stored_text()


def test_a_retry_still_sends_the_code_and_an_expired_one_is_not_sent(
    patient, sms_outbox, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from messaging.backends.base import DeliveryError
    from messaging.backends.locmem import Backend
    from messaging.services import deliveries_process

    device = SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    # given: the provider fails once, transiently
    original = Backend.send
    calls = []

    def flaky(self, delivery):
        calls.append(delivery.body)
        if len(calls) == 1:
            raise DeliveryError("busy")
        return original(self, delivery)

    monkeypatch.setattr(Backend, "send", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        device.generate_challenge()
    device.refresh_from_db()
    delivery = Delivery.objects.get(message__patient=patient, channel="sms")
    assert delivery.status == Delivery.Status.QUEUED
    # then: the row waiting for its retry keeps the code for the backend only
    assert device.token in delivery.secret_body
    assert device.token not in delivery.body
    # when: it is retried before the code expires
    with time_machine.travel(
        WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=2), tick=False
    ):
        deliveries_process([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert device.token in sms_outbox[-1]["body"]
    assert delivery.secret_body == ""
    # given: another code whose retry comes after it expired
    calls.clear()
    device.last_generated_timestamp = None
    device.save()
    with (
        time_machine.travel(
            WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5), tick=False
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        device.generate_challenge()
    device.refresh_from_db()
    second = Delivery.objects.filter(message__patient=patient, channel="sms").latest(
        "pk"
    )
    sent = len(sms_outbox)
    # when
    later = WEEKDAY_NOON_PARIS + datetime.timedelta(
        seconds=settings.OTP_CODE_VALIDITY + 600
    )
    with time_machine.travel(later, tick=False):
        deliveries_process([second.pk])
    # then: not sent, and why
    second.refresh_from_db()
    assert second.status == Delivery.Status.SUPPRESSED
    assert second.reason == "secret_expired"
    assert len(sms_outbox) == sent
    assert second.secret_body == ""


def test_the_development_outbox_shows_the_code_only_with_debug(
    patient, organization, settings, django_capture_on_commit_callbacks
):
    settings.MESSAGING_BACKENDS = {
        **settings.MESSAGING_BACKENDS,
        "sms": {"BACKEND": "messaging.backends.outbox.Backend"},
    }
    device = SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    for debug in (True, False):
        settings.DEBUG = debug
        device.last_generated_timestamp = None
        device.save()
        with django_capture_on_commit_callbacks(execute=True):
            device.generate_challenge()
        device.refresh_from_db()
        entry = OutboxEntry.objects.latest("pk")
        assert (device.token in entry.body) is debug


def test_a_fallback_carries_the_code_to_the_next_channel(
    patient, sms_outbox, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core import mail

    from messaging.backends.base import DeliveryError
    from messaging.backends.locmem import Backend

    # given: the SMS provider refuses the number for good
    def refuse(self, delivery):
        raise DeliveryError("refused", permanent=True)

    monkeypatch.setattr(Backend, "send", refuse)
    device = SmsCodeDevice.objects.create(user=patient.user, name="SMS")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        device.generate_challenge()
    device.refresh_from_db()
    # then: the email the message fell back to carries the real code, its
    # stored body the masked one
    email = Delivery.objects.get(message__patient=patient, channel="email")
    assert email.status == Delivery.Status.SENT
    assert device.token in mail.outbox[-1].body
    assert device.token not in email.body
    assert MASK in email.body


def test_a_secret_is_refused_in_the_stored_context_and_outside_security(
    patient, organization
):
    from messaging.content import MessageContentError
    from messaging.services import message_send

    care = TopicFactory(organization=organization, slug="results", purpose="care")
    security = Topic.objects.get(organization=organization, slug="security-codes")
    with pytest.raises(MessageContentError, match="secret"):
        message_send(
            patient=patient, topic=security, origin="system", context={"code": "1"}
        )
    with pytest.raises(ValueError, match="security"):
        message_send(
            patient=patient,
            topic=care,
            origin="system",
            text="{{ code }}",
            secrets={"code": "123456"},
            secrets_expire_at=WEEKDAY_NOON_PARIS,
        )
