"""Emails come from their clinic: its sender name in From (the configured
address kept), its name and logo at the top of an HTML part; nothing of a
confidential message added."""

from email.utils import parseaddr

import pytest
import time_machine

from django.core import mail

from clinic import services
from clinic.branding import branding_for
from clinic.services import patient_save
from messaging.services import message_send
from tests.clinic.branding_support import image_bytes
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _at_noon_delivered_at_once(on_commit_at_once):
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


@pytest.fixture(autouse=True)
def _from(settings):
    settings.DEFAULT_FROM_EMAIL = "Liaison <no-reply@liaison.example>"


@pytest.fixture
def patient(organization):
    return patient_save(patient=PatientFactory.build(organization=organization))


def topic_with_email(organization, **template):
    topic = TopicFactory(organization=organization, channels=["inapp", "email"])
    TemplateFactory(topic=topic, channel="inapp", body="Bonjour.")
    TemplateFactory(topic=topic, channel="email", subject="Bonjour", **template)
    return topic


def send(patient, topic, **kwargs):
    return message_send(patient=patient, topic=topic, origin="system", **kwargs)


def test_the_from_name_is_the_clinics_sender_name(patient, organization):
    organization.sender_name = "Secrétariat des Lilas"
    organization.save()
    send(patient, topic_with_email(organization, body="Bonjour."))
    (email,) = mail.outbox
    assert parseaddr(email.from_email) == (
        "Secrétariat des Lilas",
        "no-reply@liaison.example",
    )
    assert "Secr" in email.message()["From"]  # encoded as the header needs


def test_without_a_sender_name_the_from_name_is_the_organizations(
    patient, organization
):
    send(patient, topic_with_email(organization, body="Bonjour."))
    assert mail.outbox[0].from_email == (
        "Clinique des Lilas <no-reply@liaison.example>"
    )
    assert mail.outbox[0].alternatives == []  # no HTML part made up


def test_an_html_part_opens_with_the_clinics_name_and_logo(
    patient, organization, settings
):
    organization.accent_colour = "#6b3fa0"
    organization.save()
    services.organization_logo_set(organization=organization, data=image_bytes())
    topic = topic_with_email(
        organization, body="Bonjour.", body_html="<p>Bonjour <b>vous</b>.</p>"
    )
    send(patient, topic)
    ((html, kind),) = mail.outbox[0].alternatives
    assert kind == "text/html"
    logo = f'src="{settings.SITE_URL}{branding_for(organization).logo_url}"'
    assert logo.replace("&", "&amp;") in html
    assert "Clinique des Lilas</strong>" in html
    assert "#6b3fa0" in html
    assert html.index("Clinique des Lilas") < html.index("<p>Bonjour <b>vous</b>.</p>")


def test_a_whole_html_document_gets_the_header_inside_its_body(patient, organization):
    topic = topic_with_email(
        organization,
        body="Bonjour.",
        body_html='<html><head><title>t</title></head><body class="x"><p>Hi</p></body></html>',
    )
    send(patient, topic)
    html = mail.outbox[0].alternatives[0][0]
    assert html.count("<body") == 1
    assert html.index('<body class="x">') < html.index("Clinique des Lilas")
    assert html.index("Clinique des Lilas") < html.index("<p>Hi</p>")


def test_a_clinic_name_is_escaped_in_html(patient, organization):
    organization.name = "Lilas <script>"
    organization.save()
    topic = topic_with_email(organization, body="Bonjour.", body_html="<p>Hi</p>")
    send(patient, topic)
    html = mail.outbox[0].alternatives[0][0]
    assert "Lilas &lt;script&gt;" in html
    assert "<script>" not in html


def test_a_confidential_notice_keeps_its_content_out(patient, organization):
    organization.sender_name = "Secrétariat des Lilas"
    organization.save()
    topic = TopicFactory(organization=organization, channels=["inapp", "email"])
    TemplateFactory(
        topic=topic, channel="inapp", sensitivity="confidential", body="{{ diagnosis }}"
    )
    message = send(patient, topic, context={"diagnosis": "SECRET-DX"})
    (email,) = mail.outbox
    assert parseaddr(email.from_email)[0] == "Secrétariat des Lilas"
    assert message.authenticity_code in email.body
    for part in (email.body, email.subject, *(a[0] for a in email.alternatives)):
        assert "SECRET-DX" not in part
