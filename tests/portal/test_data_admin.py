"""Erasure requests in admin: scoped by organization, overdue first, erase now,
withdrawn ones shown as such and never carried out."""

import datetime

import pytest

from django.urls import reverse
from django.utils import timezone

from clinic.models import AccessAudit, Patient
from consent.models import ErasureRequest
from consent.requests.services import erasure_request_create, erasure_request_withdraw
from tests.clinic.factories import PatientFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:consent_erasurerequest_changelist"


@pytest.fixture
def own_request(organization):
    patient = PatientFactory(
        organization=organization, family_name="Lilasfamily", user=UserFactory()
    )
    return erasure_request_create(patient=patient, requested_by=patient.user)


@pytest.fixture
def foreign_request(other_organization):
    patient = PatientFactory(organization=other_organization, family_name="Farfamily")
    return erasure_request_create(patient=patient, requested_by=None)


def test_listed_for_staff_of_that_organization_only(
    staff_client, own_request, foreign_request
):
    response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "Lilasfamily" in response.text
    assert "Farfamily" not in response.text
    url = reverse("admin:consent_erasurerequest_change", args=[foreign_request.pk])
    assert staff_client.get(url).status_code == 404
    own = reverse("admin:consent_erasurerequest_change", args=[own_request.pk])
    assert staff_client.get(own).status_code == 200


def test_overdue_requests_come_first(staff_client, organization, own_request):
    # given
    late_patient = PatientFactory(organization=organization, family_name="Latefamily")
    late = erasure_request_create(patient=late_patient, requested_by=None)
    ErasureRequest.objects.filter(pk=late.pk).update(
        due_at=timezone.now() - datetime.timedelta(days=1)
    )
    # when
    response = staff_client.get(reverse(CHANGELIST))
    # then
    rows = list(response.context["cl"].result_list)
    assert [r.pk for r in rows] == [late.pk, own_request.pk]


def test_erase_now(staff_client, staff_member, own_request):
    # when
    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "erase_now", "_selected_action": [own_request.pk]},
    )
    # then
    assert response.status_code == 302
    own_request.refresh_from_db()
    assert own_request.status == ErasureRequest.Status.DONE
    assert own_request.handled_by == staff_member.user
    assert own_request.handled_at is not None
    patient = Patient.objects.get(pk=own_request.patient_id)
    assert patient.erased_at is not None
    assert AccessAudit.objects.filter(
        patient=patient, action=AccessAudit.Action.ERASE
    ).exists()


def test_erase_now_needs_the_permission(client, organization, own_request):
    # given: patient support may see requests but not erase
    client.force_login(
        StaffMemberFactory(organization=organization, role="support").user
    )
    # when
    response = client.get(reverse(CHANGELIST))
    client.post(
        reverse(CHANGELIST),
        {"action": "erase_now", "_selected_action": [own_request.pk]},
    )
    # then
    assert response.status_code == 200
    assert "erase_now" not in response.text
    own_request.refresh_from_db()
    assert own_request.status == ErasureRequest.Status.OPEN
    assert Patient.objects.get(pk=own_request.patient_id).erased_at is None


def test_a_withdrawn_request_is_shown_as_withdrawn(staff_client, own_request):
    # given
    erasure_request_withdraw(
        erasure_request=own_request, withdrawn_by=own_request.patient.user
    )
    staff_client.cookies["django_language"] = "en"
    # when
    listing = staff_client.get(reverse(CHANGELIST))
    detail = staff_client.get(
        reverse("admin:consent_erasurerequest_change", args=[own_request.pk])
    )
    # then
    assert "Withdrawn" in listing.text
    assert "Withdrawn by" in detail.text
    assert own_request.patient.user.username in detail.text


def test_staff_cannot_erase_after_the_patient_withdrew(staff_client, own_request):
    # given: the list was shown while the request was open
    erasure_request_withdraw(
        erasure_request=own_request, withdrawn_by=own_request.patient.user
    )
    staff_client.cookies["django_language"] = "en"
    # when
    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "erase_now", "_selected_action": [own_request.pk]},
        follow=True,
    )
    # then
    assert "1 request was withdrawn or already handled" in response.text
    own_request.refresh_from_db()
    assert own_request.status == ErasureRequest.Status.WITHDRAWN
    assert own_request.handled_by is None
    patient = Patient.objects.get(pk=own_request.patient_id)
    assert patient.erased_at is None
    assert patient.family_name == "Lilasfamily"
    assert not AccessAudit.objects.filter(
        patient=patient, action=AccessAudit.Action.ERASE
    ).exists()
