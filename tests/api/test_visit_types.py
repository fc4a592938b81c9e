"""Partners read the visit type as the clinic names it: REST gives both
languages beside the kind, FHIR a coded serviceType displayed in the
organization's language with the other as a translation."""

import pytest

from clinic.fhir import TRANSLATION_EXTENSION, appointment_to_fhir
from clinic.models import VisitType
from tests.api.fhir.conftest import BASE, fhir_ok
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


@pytest.fixture
def appointments(patient, follow_up):
    return {
        kind: AppointmentFactory(patient=patient, kind=kind)
        for kind in ("Suivi", "Échographie", "")
    }


def test_rest_gives_the_names_beside_the_kind(api, appointments):
    body = api.get(f"/api/v1/appointments/{appointments['Suivi'].public_id}/").json()
    assert body["kind"] == "Suivi"
    assert body["visit_type"] == {
        "code": "Suivi",
        "name_fr": "Consultation de suivi",
        "name_en": "Follow-up visit",
    }


def test_rest_lists_fall_back_to_the_kind_and_null(api, appointments, patient):
    body = api.get("/api/v1/appointments/", {"patient": str(patient.public_id)}).json()
    by_kind = {row["kind"]: row["visit_type"] for row in body["results"]}
    assert by_kind["Échographie"] == {
        "code": "Échographie",
        "name_fr": "Échographie",
        "name_en": "Échographie",
    }
    assert by_kind[""] is None
    assert by_kind["Suivi"]["name_en"] == "Follow-up visit"


def test_another_organizations_catalogue_is_not_used(api, patient):
    VisitType.objects.create(
        organization=OrganizationFactory(slug="elsewhere"),
        code="irm",
        name_fr="IRM",
        name_en="MRI",
    )
    appointment = AppointmentFactory(patient=patient, kind="irm")
    body = api.get(f"/api/v1/appointments/{appointment.public_id}/").json()
    assert body["visit_type"]["name_en"] == "irm"


def test_fhir_codes_the_service_type_with_its_translation(api, appointments):
    body = fhir_ok(api.get(f"{BASE}Appointment/{appointments['Suivi'].public_id}"))
    [service_type] = body["serviceType"]
    [coding] = service_type["coding"]
    assert coding["system"].endswith(":visit-type")
    assert coding["code"] == "Suivi"
    # The organization writes French: French is the display.
    assert coding["display"] == service_type["text"] == "Consultation de suivi"
    [translation] = coding["_display"]["extension"]
    assert translation["url"] == TRANSLATION_EXTENSION
    assert {"url": "lang", "valueCode": "en"} in translation["extension"]
    assert {"url": "content", "valueString": "Follow-up visit"} in translation[
        "extension"
    ]
    assert body["appointmentType"] == {"text": "Suivi"}


def test_fhir_search_names_each_row_and_omits_an_empty_kind(api, appointments, patient):
    bundle = fhir_ok(
        api.get(f"{BASE}Appointment", {"patient": f"Patient/{patient.public_id}"})
    )
    displays = {
        entry["resource"].get("appointmentType", {}).get("text", ""): entry[
            "resource"
        ].get("serviceType")
        for entry in bundle["entry"]
    }
    assert displays["Échographie"][0]["text"] == "Échographie"
    assert displays["Suivi"][0]["text"] == "Consultation de suivi"
    assert displays[""] is None


def test_an_english_organization_displays_english(db):
    riverside = OrganizationFactory(slug="riverside-en", default_language="en")
    VisitType.objects.create(
        organization=riverside,
        code="follow-up",
        name_fr="Consultation de suivi",
        name_en="Follow-up visit",
    )
    appointment = AppointmentFactory(
        patient=PatientFactory(organization=riverside), kind="follow-up"
    )
    [service_type] = appointment_to_fhir(appointment)["serviceType"]
    assert service_type["text"] == "Follow-up visit"
