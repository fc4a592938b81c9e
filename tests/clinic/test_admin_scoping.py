"""A staff user works only on their own organization's rows in admin."""

import pytest

from django.urls import reverse

from tests.clinic.factories import AppointmentFactory, PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_patient(organization):
    return PatientFactory(organization=organization, family_name="Ownfamily")


@pytest.fixture
def foreign_patient(other_organization):
    return PatientFactory(organization=other_organization, family_name="Foreignfamily")


def test_changelist_lists_only_own_organization(
    staff_client, own_patient, foreign_patient
):
    # when
    response = staff_client.get(reverse("admin:clinic_patient_changelist"))
    # then
    assert response.status_code == 200
    assert "Ownfamily" in response.text
    assert "Foreignfamily" not in response.text


def test_search_does_not_find_another_organizations_patient(
    staff_client, own_patient, foreign_patient
):
    response = staff_client.get(
        reverse("admin:clinic_patient_changelist"), {"q": "Foreignfamily"}
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    assert foreign_patient.identifier not in response.text


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_another_organizations_patient_is_404(staff_client, foreign_patient, view):
    url = reverse(f"admin:clinic_patient_{view}", args=[foreign_patient.pk])
    assert staff_client.get(url).status_code == 404


def test_own_patient_change_page_opens(staff_client, own_patient):
    url = reverse("admin:clinic_patient_change", args=[own_patient.pk])
    assert staff_client.get(url).status_code == 200


def test_cannot_delete_another_organizations_patient_by_post(
    staff_client, foreign_patient
):
    url = reverse("admin:clinic_patient_delete", args=[foreign_patient.pk])
    response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 404
    foreign_patient.refresh_from_db()  # still there


def test_bulk_delete_action_ignores_foreign_ids(
    staff_client, own_patient, foreign_patient
):
    # given: a crafted action post naming both patients
    url = reverse("admin:clinic_patient_changelist")
    # when
    staff_client.post(
        url,
        {
            "action": "delete_selected",
            "_selected_action": [own_patient.pk, foreign_patient.pk],
            "post": "yes",
        },
    )
    # then
    from clinic.models import Patient

    assert not Patient.objects.filter(pk=own_patient.pk).exists()
    assert Patient.objects.filter(pk=foreign_patient.pk).exists()


def test_autocomplete_returns_only_own_patients(
    staff_client, own_patient, foreign_patient
):
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "clinic",
            "model_name": "appointment",
            "field_name": "patient",
            "term": "family",
        },
    )
    assert response.status_code == 200
    ids = {int(result["id"]) for result in response.json()["results"]}
    assert ids == {own_patient.pk}


def test_appointment_list_and_site_filter_are_scoped(
    staff_client, organization, other_organization
):
    # given
    AppointmentFactory(patient__organization=organization, site__name="Own site")
    AppointmentFactory(patient__organization=other_organization, site__name="Far site")
    # when
    response = staff_client.get(reverse("admin:clinic_appointment_changelist"))
    # then
    assert response.context["cl"].result_count == 1
    assert "Own site" in response.text
    assert "Far site" not in response.text  # not even in the list filter


def test_site_choices_on_add_form_are_scoped(
    staff_client, organization, other_organization
):
    SiteFactory(organization=organization, name="Own site")
    SiteFactory(organization=other_organization, name="Far site")
    response = staff_client.get(reverse("admin:clinic_appointment_add"))
    assert "Own site" in response.text
    assert "Far site" not in response.text


def test_cannot_create_patient_in_another_organization(
    staff_client, other_organization
):
    # when: the form is posted with the other organization's id
    response = staff_client.post(
        reverse("admin:clinic_patient_add"),
        {
            "organization": other_organization.pk,
            "identifier": "X-1",
            "given_name": "Eve",
            "family_name": "Intruder",
            "birth_date": "1990-01-01",
            "preferred_language": "en",
            "time_zone": "Europe/Paris",
            "appointments-TOTAL_FORMS": "0",
            "appointments-INITIAL_FORMS": "0",
        },
    )
    # then
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    from clinic.models import Patient

    assert not Patient.objects.filter(identifier="X-1").exists()


def test_superuser_sees_every_organization(
    client, superuser, own_patient, foreign_patient
):
    client.force_login(superuser)
    response = client.get(reverse("admin:clinic_patient_changelist"))
    assert response.context["cl"].result_count == 2


def test_staff_without_organization_sees_nothing(client, own_patient):
    from tests.clinic.factories import UserFactory

    user = UserFactory(is_staff=True)
    client.force_login(user)
    response = client.get(reverse("admin:clinic_patient_changelist"))
    assert response.status_code == 403


def test_role_limits_what_staff_may_change(client, organization, own_patient):
    """A clinician reads patients but cannot edit them."""
    from tests.clinic.factories import StaffMemberFactory

    clinician = StaffMemberFactory(organization=organization, role="clinician")
    client.force_login(clinician.user)
    url = reverse("admin:clinic_patient_change", args=[own_patient.pk])
    response = client.post(url, {"identifier": "CHANGED"})
    own_patient.refresh_from_db()
    assert own_patient.identifier != "CHANGED"
    assert response.status_code == 403
