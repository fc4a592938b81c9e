"""The preference centre: the topic × channel matrix, settings, history."""

import pytest

from django.urls import reverse

from consent.models import ConsentEvent, PatientPreferences
from consent.services import consent_grant
from consent.vocabulary import Source
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

URL = "/portal/preferences/"


@pytest.fixture
def topics(organization):
    return {
        "care": TopicFactory(
            organization=organization,
            slug="reminders",
            name_en="Reminders",
            name_fr="Rappels",
            purpose="care",
            channels=["inapp", "email", "sms"],
        ),
        "marketing": TopicFactory(
            organization=organization,
            slug="campaigns",
            name_en="Health campaigns",
            name_fr="Campagnes",
            purpose="marketing",
            channels=["email", "sms"],
        ),
        "security": TopicFactory(
            organization=organization,
            slug="account",
            purpose="security",
            channels=["email"],
        ),
    }


def _cells(response) -> dict[str, tuple[bool, bool]]:
    return {
        cell.name: (cell.granted, cell.locked)
        for _topic, cells in response.context["matrix"]
        for cell in cells
        if cell
    }


def _checked(response) -> dict:
    """The form data a browser sends back for the matrix as shown."""
    data = {"form": "consent"}
    for name, (granted, locked) in _cells(response).items():
        if granted and not locked:
            data[name] = "on"
    return data


def test_matrix_shows_defaults(patient_client, topics):
    response = patient_client.get(URL)
    assert response.status_code == 200
    cells = _cells(response)
    assert cells["consent_reminders_inapp"] == (True, True)
    assert cells["consent_reminders_email"] == (True, False)
    assert cells["consent_campaigns_email"] == (False, False)
    assert cells["consent_account_email"] == (True, True)
    assert "consent_campaigns_inapp" not in cells
    assert "<legend>" in response.text
    assert "disabled" in response.text


def test_saving_writes_only_changed_cells(patient_client, patient_user, topics):
    # given
    user, patient = patient_user
    data = _checked(patient_client.get(URL))
    data["consent_campaigns_email"] = "on"
    del data["consent_reminders_sms"]
    # when
    response = patient_client.post(URL, data, HTTP_USER_AGENT="TestBrowser/1")
    # then
    assert response.status_code == 302
    events = list(ConsentEvent.objects.filter(patient=patient).order_by("id"))
    assert [(e.topic.slug, e.channel, e.action) for e in events] == [
        ("reminders", "sms", "withdrawn"),
        ("campaigns", "email", "granted"),
    ]
    for event in events:
        assert event.source == Source.PORTAL
        assert event.actor == user
        assert event.wording_version == "portal-2026-11"
        assert event.user_agent == "TestBrowser/1"
        assert event.ip_address == "127.0.0.1"
    cells = _cells(patient_client.get(URL))
    assert cells["consent_campaigns_email"] == (True, False)
    assert cells["consent_reminders_sms"] == (False, False)


def test_saving_the_same_matrix_writes_nothing(patient_client, patient_user, topics):
    data = _checked(patient_client.get(URL))
    patient_client.post(URL, data)
    assert not ConsentEvent.objects.filter(patient=patient_user[1]).exists()


def test_locked_cells_cannot_be_switched_off(patient_client, patient_user, topics):
    patient_client.post(URL, {"form": "consent"})
    assert not ConsentEvent.objects.filter(
        patient=patient_user[1], topic__in=[topics["security"]]
    ).exists()
    assert not ConsentEvent.objects.filter(
        patient=patient_user[1], channel="inapp"
    ).exists()


def _settings(**extra):
    return {
        "form": "settings",
        "send_from": "",
        "send_until": "",
        "marketing_per_week": "",
        "preferred_language": "fr",
        **extra,
    }


def test_sending_window_is_saved(patient_client, patient_user, topics):
    response = patient_client.post(
        URL, _settings(send_from="09:00", send_until="19:30", marketing_per_week="1")
    )
    assert response.status_code == 302
    preferences = PatientPreferences.objects.get(patient=patient_user[1])
    assert str(preferences.send_from) == "09:00:00"
    assert str(preferences.send_until) == "19:30:00"
    assert preferences.marketing_per_week == 1


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("20:00", "08:00", "must start before it ends"),
        ("09:00", "", "both ends"),
    ],
)
def test_window_errors_are_shown(
    patient_client, patient_user, topics, start, end, error
):
    response = patient_client.post(URL, _settings(send_from=start, send_until=end))
    assert response.status_code == 200
    assert error in response.text
    assert not PatientPreferences.objects.filter(
        patient=patient_user[1], send_from__isnull=False
    ).exists()


def test_channel_order_and_language(patient_client, patient_user, topics):
    # when
    response = patient_client.post(
        URL, _settings(order_reminders="sms", preferred_language="en")
    )
    # then
    assert response.status_code == 302
    _, patient = patient_user
    patient.refresh_from_db()
    assert patient.preferred_language == "en"
    order = PatientPreferences.objects.get(patient=patient).channel_order
    assert order == {"reminders": ["sms", "inapp", "email"]}


def test_history_in_plain_words_newest_first(patient_client, patient_user, topics):
    # given
    _, patient = patient_user
    consent_grant(
        patient=patient, topic=topics["marketing"], channel="email", source="portal"
    )
    consent_grant(patient=patient, purpose="feedback", source="staff")
    # when
    patient_client.cookies["django_language"] = "en"
    response = patient_client.get(URL)
    # then
    lines = list(response.context["history"].lines)
    assert lines[0].startswith("On ")
    assert "you agreed to receive Feedback and surveys on every channel" in lines[0]
    assert "(Clinic staff)" in lines[0]
    assert (
        "you agreed to receive Health campaigns by email (Patient portal)" in lines[1]
    )


def test_caregiver_without_preferences_scope_gets_404(client, caregiver, topics):
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"form": "consent"}).status_code == 404
    assert not ConsentEvent.objects.exists()


def test_caregiver_with_preferences_scope_acts_for_the_patient(
    client, caregiver, topics
):
    caregiver.can_manage_preferences = True
    caregiver.save()
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    client.post(
        URL,
        {
            "form": "consent",
            "consent_campaigns_sms": "on",
            "consent_reminders_email": "on",
            "consent_reminders_sms": "on",
        },
    )
    event = ConsentEvent.objects.get()
    assert event.patient == caregiver.patient
    assert event.actor == caregiver.user


def test_anonymous_is_sent_to_log_in(client):
    assert client.get(URL).status_code == 302
    assert reverse("portal:preferences") == URL
