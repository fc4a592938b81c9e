"""FHIR R4 views of clinic records: Patient and Appointment.

Every mapping is validated with ``fhir.resources`` before it is returned, so a
change to the models that breaks the mapping fails in tests, not at a partner.
``fhir.resources`` 8 ships FHIR R5 as its top-level package and R4B (4.3.0)
beside it, but not R4 (4.0.1) itself. R4B is wire-compatible with R4 for the
resources Liaison emits (Patient, Appointment, Consent, Communication, Bundle):
every element used here has the same name, type, cardinality and value set in
both releases, so validating against R4B validates the R4 JSON we serve.

``fhir.resources`` checks structure and types but not code values, so the
mappings also check each required-binding code (a status, a provision type)
against the R4 value set.

References between resources are ``urn:uuid:<public_id>``, the form a Bundle's
``fullUrl`` takes, so the export Bundle resolves on its own.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Collection
from typing import Any

import pydantic
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient

from clinic.models import Appointment, AppointmentStatus, Organization, Patient
from clinic.visit_types import VisitTypeNames

# http://hl7.org/fhir/R4/valueset-appointmentstatus.html
APPOINTMENT_STATUSES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)
# http://hl7.org/fhir/R4/valueset-participationstatus.html
PARTICIPATION_STATUSES = frozenset(
    {"accepted", "declined", "tentative", "needs-action"}
)

# FHIR has no "confirmed" appointment: the patient's confirmation is their
# participant status (accepted), the appointment stays "booked".
APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: ("booked", "needs-action"),
    AppointmentStatus.CONFIRMED: ("booked", "accepted"),
    AppointmentStatus.CANCELLED: ("cancelled", "accepted"),
    AppointmentStatus.NO_SHOW: ("noshow", "accepted"),
    AppointmentStatus.FULFILLED: ("fulfilled", "accepted"),
}

LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
TRANSLATION_EXTENSION = "http://hl7.org/fhir/StructureDefinition/translation"
ORGANIZATION_SYSTEM = "urn:liaison:org"


class FhirMappingError(ValueError):
    """A record mapped to invalid FHIR: a bug in the mapping, not in the data.

    The message names the resource type and the failing elements, never their
    values (they may be health data).
    """


def fhir_validate(model: type[pydantic.BaseModel], data: dict[str, Any]) -> dict:
    """Validate ``data`` as the ``fhir.resources`` class ``model``; return ``data``.

    Raises FhirMappingError without the offending values.
    """
    try:
        model.model_validate(data)
    except pydantic.ValidationError as exc:
        places = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})
        raise FhirMappingError(
            f"Invalid FHIR {data.get('resourceType', '?')}: {', '.join(places)}."
        ) from None
    return data


def fhir_code(element: str, value: str, allowed: Collection[str]) -> str:
    """``value`` if it is in the element's value set; FhirMappingError otherwise."""
    if value not in allowed:
        raise FhirMappingError(f"{element} has a code outside its value set.")
    return value


def fhir_datetime(moment: datetime.datetime, time_zone: str = "UTC") -> str:
    """An aware datetime as FHIR dateTime/instant, with the zone's offset."""
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone)).isoformat()


def urn_uuid(public_id: Any) -> str:
    return f"urn:uuid:{public_id}"


def patient_reference(patient: Patient) -> dict[str, str]:
    return {"reference": urn_uuid(patient.public_id), "type": "Patient"}


def organization_reference(organization: Organization) -> dict[str, Any]:
    """A display reference: Liaison serves no Organization resource."""
    return {
        "type": "Organization",
        "identifier": {"system": ORGANIZATION_SYSTEM, "value": organization.slug},
        "display": organization.name,
    }


def organization_system(organization: Organization, kind: str) -> str:
    """The identifier system of an organization's own ids, e.g. its patient numbers."""
    return f"{ORGANIZATION_SYSTEM}:{organization.slug}:{kind}"


def patient_to_fhir(patient: Patient) -> dict[str, Any]:
    """The patient as a FHIR R4 Patient (dict); raises FhirMappingError."""
    organization = patient.organization
    telecom = []
    if patient.phone:
        phone = {"system": "phone", "value": patient.phone.as_e164}
        if patient.phone_is_mobile:
            phone["use"] = "mobile"
        telecom.append(phone)
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "identifier": [
            {
                "use": "usual",
                "system": organization_system(organization, "patient"),
                "value": patient.identifier,
            }
        ],
        "active": patient.erased_at is None,
        "name": [
            {
                "use": "official",
                "family": patient.family_name,
                "given": [patient.given_name],
            }
        ],
        "birthDate": patient.birth_date.isoformat(),
        "communication": [
            {
                "language": {
                    "coding": [
                        {"system": LANGUAGE_SYSTEM, "code": patient.preferred_language}
                    ]
                },
                "preferred": True,
            }
        ],
        "managingOrganization": organization_reference(organization),
    }
    if telecom:
        resource["telecom"] = telecom
    return fhir_validate(FhirPatient, resource)


def visit_type_concept(
    appointment: Appointment, visit_types: VisitTypeNames | None = None
) -> dict[str, Any]:
    """``Appointment.serviceType``: the kind as code, named in the
    organization's language, the other language as a FHIR translation."""
    if visit_types is None:
        visit_types = VisitTypeNames.for_appointments([appointment])
    organization = appointment.organization
    names = visit_types.names(organization.pk, appointment.kind)
    language = organization.default_language
    display = names[language]
    translations = [
        {
            "url": TRANSLATION_EXTENSION,
            "extension": [
                {"url": "lang", "valueCode": other},
                {"url": "content", "valueString": name},
            ],
        }
        for other, name in names.items()
        if other != language
    ]
    coding = {
        "system": organization_system(organization, "visit-type"),
        "code": appointment.kind,
        "display": display,
        "_display": {"extension": translations},
    }
    return {"coding": [coding], "text": display}


def appointment_to_fhir(
    appointment: Appointment, visit_types: VisitTypeNames | None = None
) -> dict[str, Any]:
    """The appointment as a FHIR R4 Appointment (dict); raises FhirMappingError.

    Times carry the patient's own UTC offset. ``kind`` (clinical) is included
    as ``appointmentType.text``: this mapping serves the patient's own export
    and partners already entitled to the appointment.
    """
    patient = appointment.patient
    status, patient_status = APPOINTMENT_STATUS[appointment.status]
    participants: list[dict[str, Any]] = [
        {
            "actor": patient_reference(patient),
            "status": fhir_code(
                "Appointment.participant.status",
                patient_status,
                PARTICIPATION_STATUSES,
            ),
        },
        {
            "actor": {"type": "Location", "display": appointment.site.name},
            "status": "accepted",
        },
    ]
    if appointment.practitioner is not None:
        participants.append(
            {
                "actor": {
                    "type": "Practitioner",
                    "display": str(appointment.practitioner),
                },
                "status": "accepted",
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.public_id),
        "status": fhir_code("Appointment.status", status, APPOINTMENT_STATUSES),
        "start": fhir_datetime(appointment.starts_at, patient.time_zone),
        "end": fhir_datetime(appointment.ends_at, patient.time_zone),
        "created": fhir_datetime(appointment.created_at, patient.time_zone),
        "participant": participants,
    }
    if appointment.kind:
        resource["appointmentType"] = {"text": appointment.kind}
        resource["serviceType"] = [visit_type_concept(appointment, visit_types)]
    if appointment.preparation_notes:
        resource["patientInstruction"] = appointment.preparation_notes
    if appointment.external_id:
        resource["identifier"] = [
            {
                "system": organization_system(appointment.organization, "appointment"),
                "value": appointment.external_id,
            }
        ]
    return fhir_validate(FhirAppointment, resource)
