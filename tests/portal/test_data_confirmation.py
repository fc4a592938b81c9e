"""My data: erasure and objection only after a page that says what happens;
a pending erasure request withdrawn by the patient (issue 18, item 5)."""

import datetime
import uuid

import pytest
import time_machine

from django.test import Client

from clinic.models import AccessAudit
from consent.models import ErasureRequest, PatientPreferences
from consent.requests.services import erasure_request_create
from tests.clinic.factories import PatientFactory, UserFactory
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    """The clock stands at WEEKDAY_NOON_PARIS from before the patient signs
    in (a session would end if the clock went back)."""
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False) as traveller:
        yield traveller


@pytest.fixture
def english(clock, patient_client):
    patient_client.cookies["django_language"] = "en"
    return patient_client


@pytest.fixture
def pending(clock, patient_user):
    user, patient = patient_user
    return erasure_request_create(patient=patient, requested_by=user)


def _withdraw_url(request: ErasureRequest) -> str:
    return f"/portal/data/erasure/{request.public_id}/withdraw/"


# --- Erasure: the confirmation step -------------------------------------------


def test_the_erasure_page_says_what_goes_what_stays_and_when(english, patient_user):
    # when
    response = english.get("/portal/data/erasure/")
    # then: nothing is asked yet
    assert response.status_code == 200
    assert not ErasureRequest.objects.exists()
    text = response.text
    assert "Your name, date of birth, patient number" in text
    assert "you will be signed out and will no longer be able to sign in" in text
    assert "What is kept, because the law requires it" in text
    assert "proof that it wrote to you lawfully" in text
    assert "this request does not erase it" in text  # the medical record
    assert "A member of the clinic's staff reviews your request" in text
    assert "April 9, 2026" in text  # one month from now: the legal limit
    assert "you can withdraw your request" in text
    assert 'name="confirm" value="erasure"' in text


def test_the_erasure_page_in_french(patient_client, patient_user):
    response = patient_client.get("/portal/data/erasure/")
    assert "Ce qui est conservé, parce que la loi l’exige" in response.text
    assert "Confirmer ma demande d’effacement" in response.text


@pytest.mark.parametrize(
    "data",
    [{}, {"confirm": ""}, {"confirm": "objection"}, {"confirm": "yes"}],
    ids=["nothing", "empty", "another-action", "other-value"],
)
def test_a_post_without_the_confirmation_asks_nothing(english, patient_user, data):
    # when: the old one-click form, or a crafted request
    response = english.post("/portal/data/erasure/", data)
    # then: the confirmation page again, and no request
    assert response.status_code == 200
    assert "What will be erased" in response.text
    assert not ErasureRequest.objects.exists()


def test_an_open_request_sends_the_page_back_to_my_data(patient_client, pending):
    response = patient_client.get("/portal/data/erasure/")
    assert response.status_code == 302
    assert response["Location"] == "/portal/data/"


# --- Erasure: withdrawing a pending request ------------------------------------


def test_my_data_shows_the_pending_request_and_a_withdraw_button(english, pending):
    response = english.get("/portal/data/")
    assert "You asked for erasure on March 10, 2026" in response.text
    assert "Nothing is erased yet" in response.text
    # a link to the page that confirms it (issue 19: never one tap)
    link = f'<a class="button danger" href="{_withdraw_url(pending)}">'
    assert link in response.text
    assert "Withdraw my erasure request" in response.text
    confirm = english.get(_withdraw_url(pending))
    form = f'<form method="post" action="{_withdraw_url(pending)}">'
    assert form in confirm.text


def test_the_patient_withdraws_the_pending_request(
    english, clock, patient_user, pending
):
    # given
    user, _ = patient_user
    clock.shift(datetime.timedelta(minutes=5))
    # when
    response = english.post(_withdraw_url(pending), follow=True)
    # then
    pending.refresh_from_db()
    assert pending.status == ErasureRequest.Status.WITHDRAWN
    assert pending.withdrawn_by == user
    assert pending.withdrawn_at == WEEKDAY_NOON_PARIS + datetime.timedelta(minutes=5)
    assert "Your erasure request is withdrawn. Nothing was erased." in response.text
    # and may ask again
    assert 'href="/portal/data/erasure/"' in response.text


def test_withdrawing_needs_a_post_with_the_csrf_token(patient_user, pending):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(patient_user[0])
    # a GET only asks (issue 19: the confirmation page)
    assert browser.get(_withdraw_url(pending)).status_code == 200
    assert browser.post(_withdraw_url(pending)).status_code == 403
    pending.refresh_from_db()
    assert pending.status == ErasureRequest.Status.OPEN


def test_a_carried_out_request_cannot_be_withdrawn(english, pending):
    # given: staff carried it out since the page was shown
    ErasureRequest.objects.filter(pk=pending.pk).update(
        status=ErasureRequest.Status.DONE
    )
    # when
    response = english.post(_withdraw_url(pending), follow=True)
    # then
    assert (
        "This request has already been carried out: it can no longer be withdrawn."
        in response.text
    )
    pending.refresh_from_db()
    assert pending.status == ErasureRequest.Status.DONE
    assert pending.withdrawn_at is None


def test_another_patients_request_is_not_found(patient_client, organization):
    other = PatientFactory(organization=organization, user=UserFactory())
    theirs = erasure_request_create(patient=other, requested_by=other.user)
    assert patient_client.post(_withdraw_url(theirs)).status_code == 404
    unknown = f"/portal/data/erasure/{uuid.uuid4()}/withdraw/"
    assert patient_client.post(unknown).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ErasureRequest.Status.OPEN


def test_a_caregiver_with_a_narrow_scope_cannot_withdraw(client, caregiver):
    request = erasure_request_create(patient=caregiver.patient, requested_by=None)
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()
    assert client.post(_withdraw_url(request)).status_code == 404
    request.refresh_from_db()
    assert request.status == ErasureRequest.Status.OPEN


# --- Objection: the confirmation step and lifting -------------------------------


def test_the_objection_page_says_what_changes_and_what_does_not(english):
    response = english.get("/portal/data/objection/")
    assert response.status_code == 200
    text = response.text
    assert "leaves you out of the campaigns" in text
    assert "takes effect as soon as you confirm" in text
    assert "appointment confirmations and reminders" in text
    assert "Security codes to sign in." in text
    assert 'href="/portal/preferences/"' in text
    assert 'name="confirm" value="objection"' in text
    assert not PatientPreferences.objects.filter(objects_to_automation=True).exists()
    assert not AccessAudit.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{}, {"objects": "yes"}, {"confirm": "erasure"}],
    ids=["nothing", "old-form", "another-action"],
)
def test_an_objection_without_the_confirmation_does_nothing(english, data):
    response = english.post("/portal/data/objection/", data)
    assert response.status_code == 200
    assert "What does not change" in response.text
    assert not PatientPreferences.objects.filter(objects_to_automation=True).exists()
    assert not AccessAudit.objects.exists()


def test_the_confirmed_objection_shows_with_its_date_and_can_be_lifted(
    english, patient_user
):
    # given
    _, patient = patient_user
    english.post("/portal/data/objection/", {"confirm": "objection"})
    # when
    page = english.get("/portal/data/")
    # then
    assert "Since March 10, 2026, you object to automated processing" in page.text
    assert 'href="/portal/data/objection/lift/"' in page.text
    assert (
        'action="/portal/data/objection/lift/"'
        in english.get("/portal/data/objection/lift/").text
    )
    assert english.get("/portal/data/objection/").status_code == 302
    # and lifting it
    response = english.post("/portal/data/objection/lift/", follow=True)
    assert "Your objection is lifted." in response.text
    assert not PatientPreferences.objects.get(patient=patient).objects_to_automation
