"""Privacy requests in admin: scoped, permission-checked, audited, erasure confirmed."""

import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from django.contrib.messages import get_messages
from django.urls import reverse

from clinic.models import AccessAudit
from consent.models import PatientPreferences
from tests.clinic.factories import PatientFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:consent_patientprivacy_changelist"


@pytest.fixture
def own_patient(organization):
    return PatientFactory(
        organization=organization, given_name="Ownpatient", family_name="Lilasfamily"
    )


@pytest.fixture
def foreign_patient(other_organization):
    return PatientFactory(organization=other_organization, family_name="Foreignfamily")


def _client_for(client, organization, role):
    client.force_login(StaffMemberFactory(organization=organization, role=role).user)
    return client


def _run(client, action, *patients, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [p.pk for p in patients], **extra},
    )


def _offered_actions(response) -> set[str]:
    form = response.context["action_form"]
    return (
        {name for name, _ in form.fields["action"].choices if name} if form else set()
    )


def _audits(patient, action):
    return AccessAudit.objects.filter(patient=patient, action=action)


def test_changelist_lists_only_own_organization(
    staff_client, own_patient, foreign_patient
):
    response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "Lilasfamily" in response.text
    assert "Foreignfamily" not in response.text


def test_another_organizations_patient_is_404(staff_client, foreign_patient):
    url = reverse("admin:consent_patientprivacy_change", args=[foreign_patient.pk])
    assert staff_client.get(url).status_code == 404


def test_clinic_admin_is_offered_every_action_and_nothing_else(staff_client):
    response = staff_client.get(reverse(CHANGELIST))
    assert _offered_actions(response) == {
        "download_json",
        "download_fhir",
        "erase_identity",
        "record_objection",
    }


def test_support_may_export_and_record_objections_but_not_erase(
    client, organization, own_patient
):
    # given
    client = _client_for(client, organization, "support")
    # when
    offered = _offered_actions(client.get(reverse(CHANGELIST)))
    _run(client, "erase_identity", own_patient, post="yes")
    # then
    assert offered == {"download_json", "download_fhir", "record_objection"}
    own_patient.refresh_from_db()
    assert own_patient.erased_at is None


def test_clinician_cannot_open_privacy_requests(client, organization):
    client = _client_for(client, organization, "clinician")
    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_coordinator_sees_the_list_but_cannot_run_any_action(
    client, organization, own_patient
):
    # given
    client = _client_for(client, organization, "coordinator")
    # when
    response = client.get(reverse(CHANGELIST))
    export = _run(client, "download_json", own_patient)
    # then
    assert response.status_code == 200
    assert _offered_actions(response) == set()
    assert "Content-Disposition" not in export
    # Seeing the list is audited (a view); no action was.
    assert not AccessAudit.objects.exclude(
        action=AccessAudit.Action.VIEW_RECORD
    ).exists()


def test_user_permission_granted_directly_is_honoured(client, organization):
    """Django's own permissions work too, beside the roles."""
    # given
    from django.contrib.auth.models import Permission

    member = StaffMemberFactory(organization=organization, role="clinician")
    member.user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_patientprivacy", "export_patient_data"]
        )
    )
    client.force_login(member.user)
    # when
    response = client.get(reverse(CHANGELIST))
    # then
    assert _offered_actions(response) == {"download_json", "download_fhir"}


def test_export_json_is_an_attachment_and_audited(
    staff_client, staff_member, own_patient
):
    # when
    response = _run(staff_client, "download_json", own_patient)
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        f'attachment; filename="patient-{own_patient.public_id}.json"'
    )
    document = json.loads(response.content)
    assert document["patient"]["family_name"] == "Lilasfamily"
    audit = _audits(own_patient, AccessAudit.Action.EXPORT).get()
    assert audit.actor == staff_member.user
    assert audit.detail == "JSON"


def test_export_fhir_is_a_valid_bundle_and_audited(staff_client, own_patient):
    # when
    response = _run(staff_client, "download_fhir", own_patient)
    # then
    assert response["Content-Type"].startswith("application/fhir+json")
    Bundle.model_validate(json.loads(response.content))
    assert _audits(own_patient, AccessAudit.Action.EXPORT).count() == 1


def test_export_needs_exactly_one_patient(staff_client, organization, own_patient):
    # given
    second = PatientFactory(organization=organization)
    # when
    response = _run(staff_client, "download_json", own_patient, second)
    # then
    assert "Content-Disposition" not in response
    notes = [str(note) for note in get_messages(response.wsgi_request)]
    assert any("exactly one patient" in note for note in notes)
    # Seeing the list is audited (a view); no action was.
    assert not AccessAudit.objects.exclude(
        action=AccessAudit.Action.VIEW_RECORD
    ).exists()


def test_export_ignores_another_organizations_patient(staff_client, foreign_patient):
    response = _run(staff_client, "download_json", foreign_patient)
    assert "Content-Disposition" not in response
    # Seeing the list is audited (a view); no action was.
    assert not AccessAudit.objects.exclude(
        action=AccessAudit.Action.VIEW_RECORD
    ).exists()


def test_erase_asks_for_confirmation_first(staff_client, own_patient):
    # when
    response = _run(staff_client, "erase_identity", own_patient)
    # then
    assert response.status_code == 200
    assert "admin/consent/erase_confirmation.html" in [
        t.name for t in response.templates
    ]
    assert "Lilasfamily" in response.text
    assert 'name="post" value="yes"' in response.text
    own_patient.refresh_from_db()
    assert own_patient.erased_at is None


def test_erase_confirmed_erases_and_audits(staff_client, staff_member, own_patient):
    # when
    response = _run(staff_client, "erase_identity", own_patient, post="yes")
    # then
    assert response.status_code == 302
    own_patient.refresh_from_db()
    assert own_patient.erased_at is not None
    assert own_patient.family_name == "Patient"
    audit = _audits(own_patient, AccessAudit.Action.ERASE).get()
    assert audit.actor == staff_member.user


def test_erase_never_reaches_another_organization(
    staff_client, own_patient, foreign_patient
):
    # when
    _run(staff_client, "erase_identity", own_patient, foreign_patient, post="yes")
    # then
    foreign_patient.refresh_from_db()
    assert foreign_patient.erased_at is None
    assert foreign_patient.family_name == "Foreignfamily"


def test_record_objection_action(staff_client, staff_member, own_patient):
    # when
    _run(staff_client, "record_objection", own_patient)
    # then
    assert PatientPreferences.objects.get(patient=own_patient).objects_to_automation
    audit = _audits(own_patient, AccessAudit.Action.OBJECT).get()
    assert audit.actor == staff_member.user


def test_superuser_sees_every_organization(
    client, superuser, own_patient, foreign_patient
):
    client.force_login(superuser)
    response = client.get(reverse(CHANGELIST))
    assert "Lilasfamily" in response.text
    assert "Foreignfamily" in response.text


def test_privacy_requests_are_read_only(staff_client, own_patient):
    response = staff_client.get(
        reverse("admin:consent_patientprivacy_change", args=[own_patient.pk])
    )
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert (
        staff_client.get(reverse("admin:consent_patientprivacy_add")).status_code == 403
    )
