"""One-click email unsubscribe: signed links withdraw one topic's email, nothing else."""

import re

import pytest

from django.core import signing
from django.test import Client
from django.urls import reverse

from consent.errors import ConsentError
from consent.models import ConsentEvent, ConsentState
from consent.unsubscribe import (
    unsubscribe_apply,
    unsubscribe_headers,
    unsubscribe_token_make,
    unsubscribe_token_read,
)
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization, preferred_language="en")


@pytest.fixture
def newsletter(organization):
    return TopicFactory(
        organization=organization,
        slug="newsletter",
        purpose="marketing",
        name_en="Health news",
        name_fr="Actualités santé",
    )


@pytest.fixture
def token(patient, newsletter):
    return unsubscribe_token_make(patient=patient, topic=newsletter)


def url(token):
    return reverse("consent:unsubscribe", kwargs={"token": token})


def test_token_round_trip(patient, newsletter, token):
    """A token names its patient and topic, in a short URL-safe string."""
    # when
    found = unsubscribe_token_read(token)
    # then
    assert found == (patient, newsletter)
    assert re.fullmatch(r"[A-Za-z0-9_:-]+", token)
    assert len(token) < 100


def test_tokens_differ_per_patient_and_topic(organization, patient, newsletter):
    """Each patient × topic has its own link."""
    # given
    other_topic = TopicFactory(organization=organization, slug="tips")
    other_patient = PatientFactory(organization=organization)
    # when
    tokens = {
        unsubscribe_token_make(patient=p, topic=t)
        for p in (patient, other_patient)
        for t in (newsletter, other_topic)
    }
    # then
    assert len(tokens) == 4


def tampered(token: str) -> list[str]:
    value, signature = token.split(":")
    flipped = "A" if value[0] != "A" else "B"
    return [
        flipped + value[1:] + ":" + signature,  # another payload, same signature
        value + ":" + signature[:-2] + ("xx" if signature[-2:] != "xx" else "yy"),
        value,  # signature stripped
        signing.Signer(salt="another.salt").sign(value),
        token + ":" + signature,
    ]


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a:b", ":", "é:é", "x" * 5000, "../../etc/passwd", "null:null"],
)
def test_garbage_tokens_are_invalid_and_write_nothing(garbage):
    """Anything that is not a token we signed is refused with a clear error."""
    with pytest.raises(ConsentError, match="This unsubscribe link is invalid"):
        unsubscribe_apply(token=garbage)
    assert not ConsentEvent.objects.exists()


def test_tampered_tokens_are_invalid_and_write_nothing(token):
    """A changed payload or signature, or another salt, is refused."""
    for bad in tampered(token):
        with pytest.raises(ConsentError, match="This unsubscribe link is invalid"):
            unsubscribe_apply(token=bad)
    assert not ConsentEvent.objects.exists()


def test_signed_but_malformed_payload_is_invalid():
    """A correctly signed value that names no patient and topic is refused."""
    # given
    signer = signing.Signer(salt="consent.unsubscribe")
    # when / then
    for value in ["", "AAAA", "!!!!", "A" * 43 + "A"]:
        with pytest.raises(ConsentError, match="invalid"):
            unsubscribe_token_read(signer.sign(value))


def test_token_of_a_deleted_topic_is_invalid(patient, newsletter, token):
    """A link to a topic that no longer exists is refused."""
    # given
    newsletter.delete()
    # when / then
    with pytest.raises(ConsentError, match="This unsubscribe link is invalid"):
        unsubscribe_apply(token=token)
    assert not ConsentEvent.objects.exists()


def test_token_of_a_deleted_patient_is_invalid(patient, token):
    """A link for a patient that no longer exists is refused."""
    # given
    patient.delete()
    # when / then
    with pytest.raises(ConsentError, match="This unsubscribe link is invalid"):
        unsubscribe_token_read(token)


def test_token_mixing_organizations_is_invalid(patient, other_organization):
    """A token can never reach another organization's topic."""
    # given
    foreign = TopicFactory(organization=other_organization, slug="newsletter")
    token = unsubscribe_token_make(patient=patient, topic=foreign)
    # when / then
    with pytest.raises(ConsentError, match="This unsubscribe link is invalid"):
        unsubscribe_apply(token=token)
    assert not ConsentEvent.objects.exists()


def test_apply_withdraws_the_topic_on_email_only(patient, newsletter, token):
    """Unsubscribing writes one ledger event for this topic's email, with proof."""
    # when
    event = unsubscribe_apply(
        token=token, ip_address="203.0.113.7", user_agent="Mail/1.0"
    )
    # then
    assert ConsentEvent.objects.get() == event
    assert event.patient == patient
    assert event.topic == newsletter
    assert event.purpose == ""
    assert event.channel == "email"
    assert event.action == ConsentEvent.Action.WITHDRAWN
    assert event.source == "email-unsubscribe"
    assert event.ip_address == "203.0.113.7"
    assert event.user_agent == "Mail/1.0"
    assert event.evidence["rfc8058"] is True
    state = ConsentState.objects.get()
    assert (state.scope, state.channel, state.granted) == (
        f"topic:{newsletter.pk}",
        "email",
        False,
    )


def test_apply_twice_writes_one_event(token):
    """A mail client retrying the one-click POST does not fill the ledger."""
    # given
    first = unsubscribe_apply(token=token)
    # when
    second = unsubscribe_apply(token=token)
    # then
    assert second == first
    assert ConsentEvent.objects.count() == 1


def test_care_topics_can_be_unsubscribed_by_email(patient, organization):
    """Care email can stop; the secure inbox keeps the messages."""
    # given
    reminders = TopicFactory(organization=organization, slug="reminders")
    token = unsubscribe_token_make(patient=patient, topic=reminders)
    # when
    event = unsubscribe_apply(token=token)
    # then
    assert (event.topic, event.channel) == (reminders, "email")


def test_security_topics_cannot_be_unsubscribed(patient, organization):
    """Security mail has no unsubscribe: a forged link for it writes nothing."""
    # given
    codes = TopicFactory(organization=organization, slug="codes", purpose="security")
    token = unsubscribe_token_make(patient=patient, topic=codes)
    # when / then
    with pytest.raises(ConsentError, match="Security"):
        unsubscribe_apply(token=token)
    assert not ConsentEvent.objects.exists()
    assert unsubscribe_headers(patient=patient, topic=codes) == {}


def test_security_topic_link_page_is_refused(client, patient, organization):
    """Even the confirmation page refuses a (forged) security link."""
    # given
    codes = TopicFactory(organization=organization, slug="codes", purpose="security")
    token = unsubscribe_token_make(patient=patient, topic=codes)
    # when
    response = client.get(url(token))
    # then
    assert response.status_code == 400
    assert not ConsentEvent.objects.exists()


def test_headers_follow_rfc_8058(patient, newsletter, settings):
    """The headers point at the one-click URL on the public site."""
    # given
    settings.SITE_URL = "https://liaison.example.org"
    # when
    headers = unsubscribe_headers(patient=patient, topic=newsletter)
    # then
    token = unsubscribe_token_make(patient=patient, topic=newsletter)
    assert headers == {
        "List-Unsubscribe": f"<https://liaison.example.org/unsubscribe/{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_headers_refuse_another_organizations_topic(patient, other_organization):
    """The pipeline cannot build a link that mixes organizations."""
    foreign = TopicFactory(organization=other_organization, slug="newsletter")
    with pytest.raises(ConsentError):
        unsubscribe_headers(patient=patient, topic=foreign)


def test_get_asks_for_confirmation_and_writes_nothing(client, token):
    """Mail scanners prefetch links: GET only shows the button."""
    # when
    response = client.get(url(token))
    # then
    assert response.status_code == 200
    assert "Health news" in response.text
    assert "Clinique des Lilas" in response.text
    assert '<form method="post">' in response.text
    assert 'name="viewport"' in response.text
    assert "<script" not in response.text
    assert not ConsentEvent.objects.exists()


def test_one_click_post_without_csrf_token_unsubscribes(token):
    """The RFC 8058 POST, with no cookie and no CSRF token, writes one event."""
    # given
    client = Client(enforce_csrf_checks=True)
    # when
    response = client.post(
        url(token),
        data=ONE_CLICK,
        content_type="application/x-www-form-urlencoded",
        HTTP_USER_AGENT="Gmail one-click",
        REMOTE_ADDR="198.51.100.4",
    )
    # then
    assert response.status_code == 200
    assert "You will no longer receive Health news by email." in response.text
    event = ConsentEvent.objects.get()
    assert event.evidence == {"rfc8058": True, "one_click": True}
    assert event.ip_address == "198.51.100.4"
    assert event.user_agent == "Gmail one-click"


def test_confirmation_button_post_unsubscribes(client, token):
    """The button on the confirmation page unsubscribes too."""
    # when
    response = client.post(url(token), REMOTE_ADDR="not-an-ip")
    # then
    assert response.status_code == 200
    event = ConsentEvent.objects.get()
    assert event.evidence["one_click"] is False
    assert event.ip_address is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_token_page_is_a_clear_400(client, token, method):
    """An invalid link says so, with HTTP 400, and changes nothing."""
    # when
    response = getattr(client, method)(url(token[:-3] + "xyz"))
    # then
    assert response.status_code == 400
    assert "This unsubscribe link is invalid." in response.text
    assert "Health news" not in response.text
    assert not ConsentEvent.objects.exists()


def test_page_speaks_the_patients_language(client, organization, newsletter):
    """A French patient sees the page in French, with the topic's French name."""
    # given
    patient = PatientFactory(organization=organization, preferred_language="fr")
    token = unsubscribe_token_make(patient=patient, topic=newsletter)
    # when
    response = client.post(url(token), HTTP_ACCEPT_LANGUAGE="en")
    # then
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert "Actualités santé" in response.text
    assert response.headers["Content-Language"] == "fr"


def test_other_methods_are_refused(client, token):
    """Only GET, HEAD and POST are answered, and only POST writes."""
    assert client.head(url(token)).status_code == 200
    assert client.put(url(token)).status_code == 405
    assert not ConsentEvent.objects.exists()
