"""Staff edit templates with a live preview and read the delivery log, scoped."""

import json

import pytest

from django.urls import reverse

from clinic.models import AccessAudit
from messaging.models import Message
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db


def test_preview_renders_sample_values_and_counts_sms_segments(staff_client):
    response = staff_client.post(
        reverse("admin:messaging_template_preview"),
        json.dumps({"body": "Bonjour {{ patient_first_name }} 👋", "channel": "sms"}),
        content_type="application/json",
    )
    data = response.json()
    assert data["body"] == "Bonjour Camille 👋"
    assert data["sms"]["encoding"] == "UCS-2"
    assert data["errors"] == []


def test_preview_names_unknown_and_clinical_variables(staff_client):
    data = staff_client.post(
        reverse("admin:messaging_template_preview"),
        json.dumps({"body": "{{ nope }} {{ diagnosis }}", "channel": "sms"}),
        content_type="application/json",
    ).json()
    assert data["errors"] == ["Unknown variable: nope."]
    assert data["clinical"] == ["diagnosis"]


def test_template_change_page_has_the_preview(staff_client, organization):
    template = TemplateFactory(topic=TopicFactory(organization=organization))
    response = staff_client.get(
        reverse("admin:messaging_template_change", args=[template.pk])
    )
    assert response.status_code == 200
    assert 'id="template-preview"' in response.text


def test_saving_a_public_sms_with_clinical_data_is_refused_in_admin(
    staff_client, organization
):
    topic = TopicFactory(organization=organization)
    response = staff_client.post(
        reverse("admin:messaging_template_add"),
        {
            "topic": topic.pk,
            "channel": "sms",
            "language": "fr",
            "sensitivity": "public",
            "body": "Résultat : {{ result_name }}",
        },
    )
    assert response.status_code == 200
    assert "result_name is clinical" in response.text


def test_another_organizations_messages_are_invisible_and_reading_is_audited(
    staff_client, organization, other_organization
):
    mine = Message.objects.create(
        organization=organization,
        patient=PatientFactory(organization=organization),
        topic=TopicFactory(organization=organization),
        origin="system",
        sensitivity="public",
        language="fr",
        body="x",
    )
    theirs = Message.objects.create(
        organization=other_organization,
        patient=PatientFactory(organization=other_organization),
        topic=TopicFactory(organization=other_organization),
        origin="system",
        sensitivity="public",
        language="en",
        body="y",
    )
    assert (
        staff_client.get(
            reverse("admin:messaging_message_change", args=[theirs.pk])
        ).status_code
        == 404
    )
    assert (
        staff_client.get(
            reverse("admin:messaging_message_change", args=[mine.pk])
        ).status_code
        == 200
    )
    audit = AccessAudit.objects.get(patient=mine.patient)
    assert audit.action == "view_message"
    assert audit.actor_label == "lilas.admin"
    changelist = staff_client.get(reverse("admin:messaging_delivery_changelist"))
    assert changelist.status_code == 200


def test_the_delivery_log_warns_of_a_channel_that_cannot_send(staff_client, settings):
    settings.MESSAGING_BACKENDS = settings.MESSAGING_BACKENDS | {
        "sms": {"BACKEND": "messaging.backends.sms.twilio.SmsBackend", "OPTIONS": {}}
    }
    response = staff_client.get(reverse("admin:messaging_delivery_changelist"))
    assert "The sms channel cannot send" in response.text


def test_the_delivery_log_filters_name_the_empty_value(staff_client, organization):
    """A delivery sent without a reason: the reason and provider filters
    name the empty value, not a link without text (axe link-name)."""
    message = Message.objects.create(
        organization=organization,
        patient=PatientFactory(organization=organization),
        topic=TopicFactory(organization=organization),
        origin="system",
        sensitivity="public",
        language="fr",
        body="x",
    )
    message.deliveries.create(channel="sms", status="sent", provider="")
    message.deliveries.create(
        channel="email", status="suppressed", reason="opted_out", provider="smtp"
    )
    response = staff_client.get(reverse("admin:messaging_delivery_changelist"))
    assert 'href="?reason=">Empty</a>' in response.text
    assert 'href="?provider=">Empty</a>' in response.text
    assert 'href="?reason=opted_out">opted_out</a>' in response.text
