"""Visit types: an appointment's kind named per clinic in French and English,
for staff to keep in admin and everything that shows a kind to read."""

import datetime

import pytest

from django.urls import reverse
from django.utils import translation

from clinic.models import VisitType
from clinic.visit_types import VisitTypeNames, label_visit_types
from consent.gdpr.export import export_patient
from tests.clinic.factories import (
    AppointmentFactory,
    OrganizationFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def follow_up(organization):
    return VisitType.objects.create(
        organization=organization,
        code="suivi",
        name_fr="Consultation de suivi",
        name_en="Follow-up visit",
    )


def test_a_kind_is_named_in_each_language_whatever_its_case(organization, follow_up):
    names = VisitTypeNames.for_organizations([organization.pk])
    assert names.name(organization.pk, "SUIVI", "en") == "Follow-up visit"
    assert names.name(organization.pk, "suivi", "fr") == "Consultation de suivi"
    assert names.names(organization.pk, "Suivi") == {
        "fr": "Consultation de suivi",
        "en": "Follow-up visit",
    }


def test_a_kind_outside_the_catalogue_is_shown_as_sent(organization, follow_up):
    names = VisitTypeNames.for_organizations([organization.pk])
    assert names.name(organization.pk, "Échographie", "en") == "Échographie"
    assert names.names(organization.pk, "") is None


def test_another_organizations_catalogue_never_names_a_kind(
    organization, other_organization, follow_up
):
    appointment = AppointmentFactory(
        patient=PatientFactory(organization=other_organization), kind="suivi"
    )
    [labelled] = label_visit_types([appointment])
    assert labelled.visit_type_name == "suivi"


def test_labels_render_in_the_language_active_when_rendered(organization, follow_up):
    appointment = AppointmentFactory(
        patient=PatientFactory(organization=organization), kind="suivi"
    )
    [labelled] = label_visit_types([appointment])
    with translation.override("en"):
        assert str(labelled.visit_type_name) == "Follow-up visit"
    with translation.override("fr"):
        assert str(labelled.visit_type_name) == "Consultation de suivi"


def test_a_page_of_appointments_costs_one_catalogue_query(
    organization, follow_up, django_assert_num_queries
):
    patient = PatientFactory(organization=organization)
    appointments = [AppointmentFactory(patient=patient, kind="suivi") for _ in range(5)]
    with django_assert_num_queries(1):
        label_visit_types(appointments)


def test_the_export_names_the_visit_type_in_both_languages(organization, follow_up):
    patient = PatientFactory(organization=organization)
    first = AppointmentFactory(patient=patient, kind="suivi")
    AppointmentFactory(
        patient=patient,
        kind="",
        starts_at=first.starts_at + datetime.timedelta(days=1),
        ends_at=first.ends_at + datetime.timedelta(days=1),
    )
    appointments = export_patient(patient=patient)["appointments"]
    assert [a["visit_type"] for a in appointments] == [
        {"fr": "Consultation de suivi", "en": "Follow-up visit"},
        None,
    ]


def test_staff_add_a_visit_type_in_admin(staff_client, organization):
    response = staff_client.post(
        reverse("admin:clinic_visittype_add"),
        {
            "organization": organization.pk,
            "code": "vaccination",
            "name_fr": "Vaccination",
            "name_en": "Vaccination",
        },
    )
    assert response.status_code == 302
    assert VisitType.objects.get(organization=organization).code == "vaccination"


def test_a_code_twice_in_one_organization_is_refused_with_a_message(
    staff_client, organization, follow_up
):
    staff_client.cookies["django_language"] = "en"
    response = staff_client.post(
        reverse("admin:clinic_visittype_add"),
        {
            "organization": organization.pk,
            "code": "SUIVI",
            "name_fr": "Autre",
            "name_en": "Other",
        },
    )
    assert response.status_code == 200
    assert "already has a visit type with this code" in response.text
    assert VisitType.objects.count() == 1


def test_staff_see_only_their_organizations_visit_types(
    staff_client, organization, follow_up
):
    other = OrganizationFactory(slug="elsewhere")
    theirs = VisitType.objects.create(
        organization=other, code="irm", name_fr="IRM", name_en="MRI"
    )
    listing = staff_client.get(reverse("admin:clinic_visittype_changelist"))
    assert "Consultation de suivi" in listing.text
    assert "IRM" not in listing.text
    change = reverse("admin:clinic_visittype_change", args=[theirs.pk])
    assert staff_client.get(change).status_code == 404
