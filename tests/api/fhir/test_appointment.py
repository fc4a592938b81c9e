"""Appointment: read, search, create and update through the clinic services,
FHIR status mapped to the domain's (booked, cancelled)."""

import datetime

import pytest

from django.utils import timezone

from clinic.models import AccessAudit, Appointment, AppointmentStatus
from clinic.signals import appointment_changed
from tests.api.fhir.bodies_support import new_appointment
from tests.api.fhir.conftest import BASE, assert_outcome, fhir_ok, post_fhir, put_fhir
from tests.clinic.factories import AppointmentFactory, PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db

SEARCH = BASE + "Appointment"


@pytest.fixture
def appointment(patient, site):
    return AppointmentFactory(patient=patient, site=site)


@pytest.fixture
def changes():
    seen = []

    def receiver(sender, appointment, created, **kwargs):
        seen.append((appointment.pk, created))

    appointment_changed.connect(receiver)
    yield seen
    appointment_changed.disconnect(receiver)


def test_read_is_valid_audited_and_names_the_site(api, appointment):
    body = fhir_ok(api.get(f"{SEARCH}/{appointment.public_id}"))
    assert body["status"] == "booked"
    actors = [p["actor"] for p in body["participant"]]
    assert actors[0]["reference"] == f"Patient/{appointment.patient.public_id}"
    assert actors[1]["identifier"]["value"] == str(appointment.site.public_id)
    assert AccessAudit.objects.filter(
        patient=appointment.patient, detail="API: FHIR Appointment"
    ).exists()


def test_read_of_another_organization_is_404(api, other_organization):
    stranger = AppointmentFactory(
        patient=PatientFactory(organization=other_organization)
    )
    assert_outcome(api.get(f"{SEARCH}/{stranger.public_id}"), 404, "not-found")


def test_search_by_patient_date_and_status(api, organization, patient, site):
    now = timezone.now()
    soon = AppointmentFactory(
        patient=patient,
        site=site,
        starts_at=now + datetime.timedelta(days=2),
        ends_at=now + datetime.timedelta(days=2, hours=1),
    )
    later = AppointmentFactory(
        patient=patient,
        site=site,
        starts_at=now + datetime.timedelta(days=20),
        ends_at=now + datetime.timedelta(days=20, hours=1),
        status=AppointmentStatus.CANCELLED,
    )
    AppointmentFactory(patient=PatientFactory(organization=organization), site=site)
    by_patient = fhir_ok(api.get(SEARCH, {"patient": f"Patient/{patient.public_id}"}))
    assert by_patient["total"] == 2
    window = {
        "patient": str(patient.public_id),
        "date": [
            f"ge{(now + datetime.timedelta(days=1)).date()}",
            f"lt{(now + datetime.timedelta(days=10)).date()}",
        ],
    }
    found = fhir_ok(api.get(SEARCH, window))
    assert [e["resource"]["id"] for e in found["entry"]] == [str(soon.public_id)]
    cancelled = fhir_ok(
        api.get(SEARCH, {"patient": str(patient.public_id), "status": "cancelled"})
    )
    assert [e["resource"]["id"] for e in cancelled["entry"]] == [str(later.public_id)]
    assert_outcome(api.get(SEARCH, {"patient": "Group/1"}), 400, "invalid")
    assert_outcome(api.get(SEARCH, {"date": "ge2026-12-01T10:00"}), 400, "invalid")


def test_create_answers_201_with_location_and_reminders_follow(
    api, patient, site, changes
):
    # when
    response = post_fhir(api, SEARCH, new_appointment(patient, site=site))
    # then
    body = fhir_ok(response, 201)
    appointment = Appointment.objects.get(public_id=body["id"])
    version = body["meta"]["versionId"]
    assert response["Location"].endswith(
        f"/fhir/r4/Appointment/{body['id']}/_history/{version}"
    )
    assert response["ETag"] == f'W/"{version}"'
    assert appointment.patient == patient
    assert appointment.site == site
    assert appointment.kind == "consultation"
    assert appointment.status == AppointmentStatus.BOOKED
    assert changes == [(appointment.pk, True)]


def test_create_takes_the_only_site_and_the_external_id(
    api, organization, patient, site
):
    system = f"urn:liaison:org:{organization.slug}:appointment"
    data = new_appointment(patient, identifier=[{"system": system, "value": "B-77"}])
    body = fhir_ok(post_fhir(api, SEARCH, data), 201)
    assert body["identifier"] == [{"system": system, "value": "B-77"}]
    assert Appointment.objects.get(external_id="B-77").site == site
    SiteFactory(organization=organization)
    issue = assert_outcome(
        post_fhir(api, SEARCH, new_appointment(patient)), 400, "required"
    )
    assert issue["expression"] == ["Appointment.participant"]


def test_create_refuses_invalid_bodies(api, patient, site, other_organization):
    invalid = new_appointment(patient, site=site, start="tomorrow")
    issue = assert_outcome(post_fhir(api, SEARCH, invalid), 400, "structure")
    assert issue["expression"] == ["Appointment.start"]
    assert_outcome(
        post_fhir(api, SEARCH, {"resourceType": "Patient"}), 400, "structure"
    )
    stranger = PatientFactory(organization=other_organization)
    assert_outcome(
        post_fhir(api, SEARCH, new_appointment(stranger, site=site)), 400, "not-found"
    )
    backwards = new_appointment(patient, site=site)
    backwards["end"], backwards["start"] = backwards["start"], backwards["end"]
    issue = assert_outcome(post_fhir(api, SEARCH, backwards), 400, "invalid")
    assert issue["expression"] == ["Appointment"]
    assert_outcome(
        post_fhir(api, SEARCH, new_appointment(patient, site=site, status="arrived")),
        422,
        "business-rule",
    )
    assert not Appointment.objects.exists()


def test_writes_need_appointments_write(make_client, patient, site):
    from api.scopes import Scope

    client, _ = make_client(scopes=[Scope.PATIENTS_READ])
    assert_outcome(
        post_fhir(client, SEARCH, new_appointment(patient, site=site)), 403, "forbidden"
    )


def test_update_round_trip_moves_the_appointment(api, appointment, changes):
    # given
    body = api.get(f"{SEARCH}/{appointment.public_id}").json()
    start = datetime.datetime.fromisoformat(body["start"]) + datetime.timedelta(hours=2)
    body["start"] = start.isoformat()
    body["end"] = (start + datetime.timedelta(minutes=45)).isoformat()
    # when
    updated = fhir_ok(put_fhir(api, f"{SEARCH}/{appointment.public_id}", body))
    # then
    appointment.refresh_from_db()
    assert appointment.starts_at == start
    assert updated["start"] == body["start"]
    assert changes == [(appointment.pk, False)]
    # The same body again changes nothing.
    fhir_ok(put_fhir(api, f"{SEARCH}/{appointment.public_id}", body))
    assert len(changes) == 1


def test_update_to_cancelled_cancels_through_the_domain(api, appointment, changes):
    body = api.get(f"{SEARCH}/{appointment.public_id}").json()
    body["status"] = "cancelled"
    updated = fhir_ok(put_fhir(api, f"{SEARCH}/{appointment.public_id}", body))
    assert updated["status"] == "cancelled"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert changes == [(appointment.pk, False)]
    # Booking it again is refused: it is a new appointment.
    body["status"] = "booked"
    assert_outcome(
        put_fhir(api, f"{SEARCH}/{appointment.public_id}", body), 409, "conflict"
    )


def test_cancelling_a_past_appointment_is_409(api, patient, site):
    past = timezone.now() - datetime.timedelta(days=1)
    appointment = AppointmentFactory(
        patient=patient,
        site=site,
        starts_at=past,
        ends_at=past + datetime.timedelta(hours=1),
    )
    body = api.get(f"{SEARCH}/{appointment.public_id}").json()
    body["status"] = "cancelled"
    assert_outcome(
        put_fhir(api, f"{SEARCH}/{appointment.public_id}", body), 409, "conflict"
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_update_refuses_another_id_patient_or_status(api, organization, appointment):
    url = f"{SEARCH}/{appointment.public_id}"
    body = api.get(url).json()
    assert_outcome(
        put_fhir(api, url, {**body, "id": str(organization.public_id)}), 400, "invalid"
    )
    other = PatientFactory(organization=organization)
    moved = {
        **body,
        "participant": [
            {"actor": {"reference": f"Patient/{other.public_id}"}, "status": "accepted"}
        ],
    }
    assert_outcome(put_fhir(api, url, moved), 400, "not-supported")
    assert_outcome(
        put_fhir(api, url, {**body, "status": "noshow"}), 422, "business-rule"
    )


def test_preparation_notes_are_the_patient_instruction(api, patient, site):
    # given
    notes = "Come fasting: nothing to eat after midnight."
    data = new_appointment(patient, site=site, patientInstruction=notes)
    # when
    body = fhir_ok(post_fhir(api, SEARCH, data), 201)
    # then
    appointment = Appointment.objects.get(public_id=body["id"])
    assert appointment.preparation_notes == notes
    read = fhir_ok(api.get(f"{SEARCH}/{appointment.public_id}"))
    assert read["patientInstruction"] == notes
    too_long = new_appointment(patient, site=site, patientInstruction="x" * 1001)
    issue = assert_outcome(post_fhir(api, SEARCH, too_long), 400, "invalid")
    assert issue["expression"] == ["Appointment.patientInstruction"]
