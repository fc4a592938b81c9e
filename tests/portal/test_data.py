"""My data: downloads (audited), erasure request, objection, access log."""

import datetime
import json

import pytest

from django.utils import timezone

from clinic.models import AccessAudit
from clinic.services import access_audit_record
from consent.models import ErasureRequest, PatientPreferences
from tests.clinic.factories import UserFactory

pytestmark = pytest.mark.django_db


def _act_for(client, caregiver):
    client.force_login(caregiver.user)
    session = client.session
    session["portal_acting_for"] = str(caregiver.patient.public_id)
    session.save()


def test_page_shows_the_rights(patient_client):
    response = patient_client.get("/portal/data/")
    assert response.status_code == 200
    assert "/portal/data/export.json" in response.text
    # Erasure and objection each open their confirmation page first.
    assert 'href="/portal/data/erasure/"' in response.text
    assert 'href="/portal/data/objection/"' in response.text


@pytest.mark.parametrize(
    ("url", "content_type", "form"),
    [
        ("/portal/data/export.json", "application/json", "JSON"),
        ("/portal/data/export.fhir.json", "application/fhir+json", "FHIR Bundle"),
    ],
)
def test_downloads_are_attachments_and_audited(
    patient_client, patient_user, url, content_type, form
):
    # given
    user, patient = patient_user
    # when
    response = patient_client.get(url)
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"].startswith("attachment;")
    document = json.loads(response.content)
    if form == "JSON":
        assert document["patient"]["public_id"] == str(patient.public_id)
    else:
        assert document["resourceType"] == "Bundle"
    audit = AccessAudit.objects.get(patient=patient)
    assert audit.action == AccessAudit.Action.EXPORT
    assert audit.actor == user
    assert form in audit.detail


def test_erasure_request_is_created_with_a_due_date(patient_client, patient_user):
    # given
    user, patient = patient_user
    confirmed = {"confirm": "erasure"}
    # when
    response = patient_client.post("/portal/data/erasure/", confirmed)
    patient_client.post("/portal/data/erasure/", confirmed)  # twice changes nothing
    # then
    assert response.status_code == 302
    request = ErasureRequest.objects.get(patient=patient)
    assert request.status == ErasureRequest.Status.OPEN
    assert request.requested_by == user
    assert request.due_at - request.requested_at == datetime.timedelta(days=30)
    assert "Vous avez demandé l’effacement" in patient_client.get("/portal/data/").text


def test_objection_and_its_lifting(patient_client, patient_user):
    user, patient = patient_user
    patient_client.post("/portal/data/objection/", {"confirm": "objection"})
    preferences = PatientPreferences.objects.get(patient=patient)
    assert preferences.objects_to_automation
    audit = AccessAudit.objects.get(patient=patient, action=AccessAudit.Action.OBJECT)
    assert audit.actor == user
    assert "portal" in audit.detail
    patient_client.post("/portal/data/objection/lift/")
    preferences.refresh_from_db()
    assert not preferences.objects_to_automation


def test_access_log_in_plain_words_newest_first(patient_client, patient_user):
    # given
    _, patient = patient_user
    doctor = UserFactory(username="drmartin", first_name="Anne", last_name="Martin")
    old = access_audit_record(
        patient=patient, action=AccessAudit.Action.VIEW_RECORD, actor=doctor
    )
    AccessAudit.objects.filter(pk=old.pk).update(
        occurred_at=timezone.now() - datetime.timedelta(days=3)
    )
    access_audit_record(
        patient=patient, action=AccessAudit.Action.EXPORT, actor_label="API key EHR"
    )
    for _ in range(30):
        access_audit_record(
            patient=patient, action=AccessAudit.Action.VIEW_MESSAGE, actor_label="X"
        )
    patient_client.cookies["django_language"] = "en"
    # when
    first = patient_client.get("/portal/data/access/")
    last = patient_client.get("/portal/data/access/?page=2")
    # then
    assert first.status_code == 200
    assert len(first.context["page"].object_list) == 25
    assert "X read a message." in first.text
    entries = list(last.context["page"].object_list)
    assert [e.actor_label for e in entries[-2:]] == ["API key EHR", "Anne Martin"]
    assert "Anne Martin viewed the record." in last.text


def test_a_caregiver_needs_every_scope(client, caregiver):
    # given: the fixture's caregiver may only read messages
    _act_for(client, caregiver)
    # then
    for url in ("/portal/data/", "/portal/data/export.json", "/portal/data/access/"):
        assert client.get(url).status_code == 404, url
    assert (
        client.post("/portal/data/erasure/", {"confirm": "erasure"}).status_code == 404
    )
    assert not AccessAudit.objects.exists()
    assert not ErasureRequest.objects.exists()


def test_a_guardian_with_every_scope_may_act(client, caregiver):
    caregiver.can_see_appointments = caregiver.can_see_results = True
    caregiver.can_manage_preferences = True
    caregiver.save()
    _act_for(client, caregiver)
    assert client.get("/portal/data/export.json").status_code == 200
    audit = AccessAudit.objects.get(patient=caregiver.patient)
    assert audit.actor == caregiver.user


def test_anonymous_is_sent_to_log_in(client):
    for url in ("/portal/data/", "/portal/data/export.json"):
        assert client.get(url).status_code == 302


def test_a_revoked_caregiver_gets_404_everywhere(client, caregiver):
    # given
    caregiver.can_see_appointments = caregiver.can_manage_preferences = True
    caregiver.can_see_results = True
    caregiver.revoked_at = timezone.now() - datetime.timedelta(minutes=1)
    caregiver.save()
    _act_for(client, caregiver)
    # then
    for url in (
        "/portal/appointments/",
        "/portal/preferences/",
        "/portal/data/",
        "/portal/data/export.json",
        "/portal/data/access/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
    assert not AccessAudit.objects.exists()
