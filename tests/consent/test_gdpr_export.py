"""A patient's data export: every section in JSON, a valid FHIR R4 Bundle, no one else's data."""

import datetime
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from clinic.fhir import FhirMappingError, appointment_to_fhir, fhir_validate
from clinic.models import AccessAudit, Appointment
from clinic.services import access_audit_record
from consent import limits, services
from consent.fhir import send_record_to_fhir
from consent.gdpr import registry
from consent.gdpr.export import export_patient, export_patient_fhir
from consent.models import PatientPreferences
from tests.clinic.factories import (
    AppointmentFactory,
    CaregiverFactory,
    PatientFactory,
    StaffMemberFactory,
)
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

SECTIONS = {
    "format",
    "version",
    "generated_at",
    "organization",
    "patient",
    "preferences",
    "consent_events",
    "consent_state",
    "appointments",
    "caregivers",
    "access_audit",
    "communications",
}


def _history(patient, topic):
    """Consent events (one replaced, one in force), an appointment, a send."""
    granted = services.consent_grant(
        patient=patient,
        purpose="marketing",
        channel="sms",
        source="portal",
        actor_label="patient",
        wording_version="marketing-v2",
        ip_address="203.0.113.7",
        user_agent="Firefox",
        occurred_at=timezone.now() - datetime.timedelta(days=2),
    )
    withdrawn = services.consent_withdraw(
        patient=patient,
        purpose="marketing",
        channel="sms",
        source="sms-keyword",
        actor_label="SMS keyword",
        evidence={"keyword": "STOP"},
    )
    appointment = AppointmentFactory(patient=patient, status="confirmed")
    record = limits.send_record(
        patient=patient, topic=topic, channel="sms", message_key="m-1"
    )
    return granted, withdrawn, appointment, record


@pytest.fixture
def patient(organization):
    return PatientFactory(
        organization=organization,
        given_name="Ottoline",
        family_name="Marchbanks",
        email="ottoline@example.net",
        phone="+33611223344",
    )


@pytest.fixture
def topic(organization):
    return TopicFactory(organization=organization, slug="appointment-reminder")


@pytest.fixture
def history(patient, topic):
    return _history(patient, topic)


@pytest.fixture
def stranger(organization, topic):
    """Another patient of the same organization, with a history of their own."""
    other = PatientFactory(
        organization=organization,
        given_name="Wilhelmina",
        family_name="Strangeways",
        email="wilhelmina@example.net",
    )
    _history(other, topic)
    CaregiverFactory(patient=other, user__username="strangeways-parent")
    access_audit_record(patient=other, action="view_record", actor_label="Dr Other")
    return other


def test_json_export_has_every_section(patient, history, staff_member):
    """Every section is present, filled, and the document is plain JSON."""
    # given
    CaregiverFactory(patient=patient, relationship="parent", user__username="mum")
    access_audit_record(
        patient=patient, action=AccessAudit.Action.VIEW_RECORD, actor=staff_member.user
    )
    # when
    document = export_patient(patient=patient)
    # then
    assert set(document) >= SECTIONS
    json.dumps(document)  # no datetimes, UUIDs or phone objects left
    assert document["format"] == "liaison.patient-export"
    assert document["patient"]["family_name"] == "Marchbanks"
    assert document["patient"]["phone"] == "+33611223344"
    assert document["patient"]["time_zone"] == "Europe/Paris"
    assert document["preferences"]["objects_to_automation"] is False
    first, second = document["consent_events"]
    assert first["ip_address"] == "203.0.113.7"
    assert first["wording_version"] == "marketing-v2"
    assert second["source"] == "sms-keyword"
    assert second["evidence"] == {"keyword": "STOP"}
    assert document["consent_state"] == [
        {
            "purpose": "marketing",
            "topic": None,
            "channel": "sms",
            "granted": False,
            "since": second["occurred_at"],
            "event": second["public_id"],
        }
    ]
    assert document["appointments"][0]["status"] == "confirmed"
    assert [(c["relationship"], c["username"]) for c in document["caregivers"]] == [
        ("parent", "mum")
    ]
    assert set(document["caregivers"][0]) == {"relationship", "username", "since"}
    assert document["access_audit"][0]["action"] == "view_record"
    assert document["communications"] == [
        {
            "topic": "appointment-reminder",
            "purpose": "care",
            "channel": "sms",
            "urgent": False,
            "sent_at": document["communications"][0]["sent_at"],
        }
    ]


def test_export_writes_nothing(patient, history):
    """Exporting is a read: no preferences row, no audit row appears."""
    # given
    audits = AccessAudit.objects.count()
    # when
    export_patient(patient=patient)
    export_patient_fhir(patient=patient)
    # then
    assert not PatientPreferences.objects.filter(patient=patient).exists()
    assert AccessAudit.objects.count() == audits


def test_registered_exporter_adds_its_section(patient, monkeypatch):
    # given
    monkeypatch.setattr(registry, "_exporters", {})
    registry.register_exporter("surveys", lambda p: [{"answered": 2}])
    # when
    document = export_patient(patient=patient)
    # then
    assert document["surveys"] == [{"answered": 2}]


def test_exporter_cannot_replace_a_built_in_section(monkeypatch):
    monkeypatch.setattr(registry, "_exporters", {})
    with pytest.raises(ImproperlyConfigured):
        registry.register_exporter("patient", lambda p: {})
    registry.register_exporter("surveys", len)
    registry.register_exporter("surveys", len)  # same function again: harmless
    with pytest.raises(ImproperlyConfigured):
        registry.register_exporter("surveys", str)


def test_fhir_bundle_validates_and_holds_every_resource(patient, history):
    # when
    bundle = export_patient_fhir(patient=patient)
    # then
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    types = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert sorted(types) == [
        "Appointment",
        "Communication",
        "Consent",
        "Consent",
        "Patient",
    ]
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    assert len({entry["fullUrl"] for entry in bundle["entry"]}) == len(types)


def test_fhir_consent_maps_granted_to_permit_and_withdrawn_to_deny(patient, history):
    """The replaced grant is inactive/permit; the withdrawal in force active/deny."""
    # given
    granted, withdrawn, _, _ = history
    # when
    bundle = export_patient_fhir(patient=patient)
    # then
    consents = {
        entry["resource"]["id"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Consent"
    }
    grant, withdrawal = (
        consents[str(granted.public_id)],
        consents[str(withdrawn.public_id)],
    )
    assert (grant["provision"]["type"], grant["status"]) == ("permit", "inactive")
    assert (withdrawal["provision"]["type"], withdrawal["status"]) == ("deny", "active")
    assert withdrawal["provision"]["purpose"] == [
        {"system": "urn:liaison:purpose", "code": "marketing"}
    ]
    assert withdrawal["patient"]["reference"] == f"urn:uuid:{patient.public_id}"
    assert withdrawal["category"][0]["coding"][0]["code"] == "59284-0"
    assert {"url": "urn:liaison:fhir:consent-source", "valueCode": "sms-keyword"} in (
        withdrawal["extension"]
    )


def test_fhir_patient_carries_identity_and_contact_points(patient, organization):
    bundle = export_patient_fhir(patient=patient)
    resource = bundle["entry"][0]["resource"]
    assert resource["resourceType"] == "Patient"
    assert resource["id"] == str(patient.public_id)
    assert resource["identifier"][0] == {
        "use": "usual",
        "system": "urn:liaison:org:lilas:patient",
        "value": patient.identifier,
    }
    assert resource["name"][0]["family"] == "Marchbanks"
    assert {"system": "email", "value": "ottoline@example.net"} in resource["telecom"]
    assert resource["managingOrganization"]["display"] == organization.name


@pytest.mark.parametrize(
    ("status", "fhir_status", "patient_status"),
    [
        ("booked", "booked", "needs-action"),
        ("confirmed", "booked", "accepted"),
        ("cancelled", "cancelled", "accepted"),
        ("noshow", "noshow", "accepted"),
        ("fulfilled", "fulfilled", "accepted"),
    ],
)
def test_fhir_appointment_status(patient, status, fhir_status, patient_status):
    # given
    appointment = AppointmentFactory(
        patient=patient,
        status=status,
        kind="vaccination",
        practitioner=StaffMemberFactory(organization=patient.organization),
    )
    # when
    resource = appointment_to_fhir(appointment)
    # then
    assert resource["status"] == fhir_status
    assert resource["participant"][0]["status"] == patient_status
    assert resource["appointmentType"] == {"text": "vaccination"}
    assert resource["start"].endswith(("+01:00", "+02:00"))  # the patient's Paris time


def test_every_appointment_status_is_mapped(patient):
    for status in Appointment.Status.values:
        appointment_to_fhir(AppointmentFactory(patient=patient, status=status))


@pytest.mark.parametrize(
    ("channel", "code"),
    [
        ("sms", "SMSWRIT"),
        ("email", "EMAILWRIT"),
        ("voice", "PHONE"),
        ("inapp", "ONLINEWRIT"),
    ],
)
def test_fhir_communication_medium_and_no_content(patient, topic, channel, code):
    # given
    record = limits.send_record(
        patient=patient, topic=topic, channel=channel, message_key="k"
    )
    # when
    resource = send_record_to_fhir(record)
    # then
    assert resource["medium"][0]["coding"][0]["code"] == code
    assert resource["status"] == "completed"
    assert "payload" not in resource


def test_another_patients_data_never_appears(patient, history, stranger):
    # when
    document = json.dumps(export_patient(patient=patient))
    bundle = json.dumps(export_patient_fhir(patient=patient))
    # then
    for text in (document, bundle):
        for trace in (
            "Wilhelmina",
            "Strangeways",
            "wilhelmina@example.net",
            stranger.identifier,
            str(stranger.public_id),
            "strangeways-parent",
            "Dr Other",
        ):
            assert trace not in text
    assert len(json.loads(document)["consent_events"]) == 2
    assert len(json.loads(document)["communications"]) == 1


def test_invalid_mapping_raises_without_the_values():
    """A mapping bug fails loudly, and the error never repeats patient data."""
    with pytest.raises(FhirMappingError) as raised:
        fhir_validate(
            FhirPatient,
            {"resourceType": "Patient", "birthDate": "Marchbanks", "active": "x"},
        )
    assert "Marchbanks" not in str(raised.value)
    assert "birthDate" in str(raised.value)
    assert raised.value.__cause__ is None
