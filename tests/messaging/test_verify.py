"""/verify/ tells whether a code was really sent, when and by whom, and nothing more."""

import datetime

import pytest

from django.urls import reverse

from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(organization):
    from messaging.models import Message

    patient = PatientFactory(organization=organization, given_name="Secretname")
    topic = TopicFactory(
        organization=organization, slug="results", name_en="Results of biopsy"
    )
    return Message.objects.create(
        organization=organization,
        patient=patient,
        topic=topic,
        origin="system",
        sensitivity="confidential",
        language="fr",
        body="Biopsy: malignant",
        created_at=datetime.datetime(2026, 3, 10, 11, 0, tzinfo=datetime.UTC),
    )


def test_a_real_code_names_the_organization_and_the_time_only(client, message):
    response = client.post(
        reverse("verify"), {"code": message.authenticity_code.lower()}
    )
    assert response.status_code == 200
    assert "Clinique des Lilas" in response.text
    assert "2026" in response.text
    for secret in (
        "Secretname",
        "Biopsy",
        "biopsy",
        "malignant",
        message.patient.identifier,
    ):
        assert secret not in response.text


def test_a_code_with_spaces_and_dashes_is_accepted(client, message):
    code = message.authenticity_code
    response = client.post(reverse("verify"), {"code": f" {code[:4]}-{code[4:]} "})
    assert "Clinique des Lilas" in response.text


def test_an_unknown_code_warns_of_phishing(client, message):
    response = client.post(reverse("verify"), {"code": "ZZZZ2222"})
    assert response.status_code == 200
    assert "phishing" in response.text
    assert "Clinique des Lilas" not in response.text


def test_guessing_is_rate_limited_per_ip(client, message):
    for _ in range(10):
        assert client.post(reverse("verify"), {"code": "ZZZZ2222"}).status_code == 200
    response = client.post(reverse("verify"), {"code": message.authenticity_code})
    assert response.status_code == 429
    assert "Clinique des Lilas" not in response.text


def test_with_redis_unreachable_the_page_answers_and_limits_per_process(
    client, message, settings
):
    """The limit falls back to this process's count (docs/architecture.md,
    "Redis"): answers, then 429, never a 500."""
    from config.settings import redis_caches
    from tests.support.redis import refusing_url

    # given: the cache's Redis refuses connections
    settings.CACHES = redis_caches(refusing_url())
    # when
    answers = [
        client.post(reverse("verify"), {"code": message.authenticity_code})
        for _ in range(11)
    ]
    # then
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert "Clinique des Lilas" in answers[0].text


def test_the_page_is_translated(client):
    response = client.get(reverse("verify"), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert "Ce message vient-il vraiment de votre clinique ?" in response.text


@pytest.fixture
def branded(organization):
    from clinic import services
    from tests.clinic.branding_support import image_bytes

    organization.accent_colour = "#6b3fa0"
    organization.save()
    services.organization_logo_set(organization=organization, data=image_bytes())
    return organization


def test_a_real_code_shows_the_sending_clinics_logo_and_name(client, message, branded):
    from clinic.branding import branding_for

    response = client.post(reverse("verify"), {"code": message.authenticity_code})
    clinic = branding_for(branded)
    assert response.context["branding"] == clinic
    result = response.text.split('class="result ok"')[1].split("</div>")[0]
    assert f'src="{clinic.logo_url.replace("&", "&amp;")}"' in result
    assert "Clinique des Lilas" in result


def test_an_unknown_code_shows_no_clinics_branding_even_to_its_patient(
    client, message, branded
):
    from tests.clinic.factories import UserFactory

    message.patient.user = UserFactory(username="camille")
    message.patient.save()
    client.force_login(message.patient.user)
    response = client.post(reverse("verify"), {"code": "ZZZZ2222"})
    assert response.context["branding"].name == "Liaison"
    assert response.context["branding"].logo_url == ""
    assert "/brand/" not in response.text
    assert client.get(reverse("verify")).context["branding"].name == "Liaison"
