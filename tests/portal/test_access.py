"""Who a portal request acts for: oneself, or a patient one has proxy access to."""

import datetime

import pytest

from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal.access import SESSION_KEY, portal_access
from tests.clinic.factories import UserFactory

pytestmark = pytest.mark.django_db


def request_for(user, acting_for=None):
    request = RequestFactory().get("/portal/")
    request.user = user
    request.session = {SESSION_KEY: str(acting_for)} if acting_for else {}
    return request


def test_a_patient_sees_their_own_record(patient_client, patient_user):
    response = patient_client.get(reverse("portal:home"))
    assert response.status_code == 200
    # In the patient's language (the switcher's cookie would override it).
    greeting = {"fr": "Bonjour Camille", "en": "Hello Camille"}
    assert greeting[patient_user[1].preferred_language] in response.text


def test_a_user_without_a_patient_record_gets_404(client):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("portal:home")).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302


def test_a_caregiver_acts_for_the_patient_within_the_links_scopes(caregiver):
    access = portal_access(request_for(caregiver.user, caregiver.patient.public_id))
    assert access.patient == caregiver.patient
    assert access.is_proxy
    assert access.allows("messages")
    assert not access.allows("appointments")


@pytest.mark.parametrize("change", ["revoked", "expired"])
def test_a_revoked_or_expired_link_gives_nothing(caregiver, change):
    if change == "revoked":
        caregiver.revoked_at = timezone.now()
    else:
        caregiver.valid_until = timezone.now() - datetime.timedelta(minutes=1)
    caregiver.save()
    with pytest.raises(Http404):
        portal_access(request_for(caregiver.user, caregiver.patient.public_id))


def test_act_for_refuses_a_patient_one_has_no_link_to(client, caregiver, patient_user):
    client.force_login(caregiver.user)
    other = patient_user[1]
    response = client.post(reverse("portal:act_for", args=[other.public_id]))
    assert response.status_code == 404
    response = client.post(
        reverse("portal:act_for", args=[caregiver.patient.public_id])
    )
    assert response.status_code == 302
    page = client.get(reverse("portal:home"))
    assert page.context["request"].portal.patient == caregiver.patient
    assert 'class="acting-for"' in page.text


def test_a_caregiver_without_a_record_chooses_whom_to_act_for(client, caregiver):
    client.force_login(caregiver.user)
    page = client.get(reverse("portal:home"))
    assert page.status_code == 200
    assert "Act for Lou" in page.text
