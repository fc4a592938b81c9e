"""Everything Liaison holds about a patient, for the right of access (GDPR art. 15, 20).

Two forms: a JSON document meant to be read (every table, in plain words and
values), and a FHIR R4 Bundle meant for another system. Both are reads without
side effects: the caller (admin, portal, API) writes the access-audit row with
``clinic.services.access_audit_record(action=AccessAudit.Action.EXPORT, …)``,
because only it knows who asked.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle as FhirBundle

from django.utils import timezone

from clinic.fhir import (
    FhirMappingError,
    appointment_to_fhir,
    fhir_validate,
    patient_to_fhir,
    urn_uuid,
)
from clinic.models import AccessAudit, Appointment, Caregiver, Patient
from clinic.visit_types import VisitTypeNames
from consent.fhir import consent_event_to_fhir, send_record_to_fhir
from consent.gdpr import registry
from consent.models import ConsentEvent, ConsentState, PatientPreferences, SendRecord

FORMAT = "liaison.patient-export"
VERSION = 1


def _iso(value: datetime.date | datetime.time | None) -> str | None:
    return value.isoformat() if value is not None else None


def _patient(patient: Patient) -> dict[str, Any]:
    return {
        "public_id": str(patient.public_id),
        "identifier": patient.identifier,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": _iso(patient.birth_date),
        "email": patient.email,
        "phone": patient.phone.as_e164 if patient.phone else "",
        "phone_takes_sms": patient.phone_is_mobile,
        "preferred_language": patient.preferred_language,
        "time_zone": patient.time_zone,
        "portal_account": patient.user.get_username() if patient.user else None,
        "created_at": _iso(patient.created_at),
        "updated_at": _iso(patient.updated_at),
        "erased_at": _iso(patient.erased_at),
    }


def _organization(patient: Patient) -> dict[str, Any]:
    # The controller, and how to reach it about this data.
    organization = patient.organization
    return {
        "name": organization.name,
        "contact_email": organization.contact_email,
        "contact_phone": (
            organization.contact_phone.as_e164 if organization.contact_phone else ""
        ),
    }


def _preferences(patient: Patient) -> dict[str, Any]:
    # An unsaved default row when there is none: exporting must not write.
    preferences = PatientPreferences.objects.filter(
        patient=patient
    ).first() or PatientPreferences(patient=patient)
    return {
        "send_from": _iso(preferences.send_from),
        "send_until": _iso(preferences.send_until),
        "marketing_per_week": preferences.marketing_per_week,
        "channel_order": preferences.channel_order,
        "email_verified_at": _iso(preferences.email_verified_at),
        "phone_verified_at": _iso(preferences.phone_verified_at),
        "email_invalid_at": _iso(preferences.email_invalid_at),
        "phone_invalid_at": _iso(preferences.phone_invalid_at),
        "objects_to_automation": preferences.objects_to_automation,
        "objected_at": _iso(preferences.objected_at),
    }


def _events(patient: Patient) -> list[ConsentEvent]:
    return list(
        ConsentEvent.objects.for_patient(patient)
        .select_related("topic", "patient__organization")
        .order_by("occurred_at", "id")
    )


def _consent_events(events: list[ConsentEvent]) -> list[dict[str, Any]]:
    return [
        {
            "public_id": str(event.public_id),
            "occurred_at": _iso(event.occurred_at),
            "action": event.action,
            "purpose": event.topic.purpose if event.topic_id else event.purpose,
            "topic": event.topic.slug if event.topic_id else None,
            "channel": event.channel or "*",
            "source": event.source,
            "actor_label": event.actor_label,
            "wording_version": event.wording_version,
            "ip_address": event.ip_address,
            "user_agent": event.user_agent,
            "evidence": event.evidence,
        }
        for event in events
    ]


def _consent_state(patient: Patient) -> list[dict[str, Any]]:
    states = (
        ConsentState.objects.filter(patient=patient)
        .select_related("event__topic")
        .order_by("scope", "channel")
    )
    return [
        {
            "purpose": state.event.topic.purpose
            if state.event.topic_id
            else state.event.purpose,
            "topic": state.event.topic.slug if state.event.topic_id else None,
            "channel": state.channel,
            "granted": state.granted,
            "since": _iso(state.occurred_at),
            "event": str(state.event.public_id),
        }
        for state in states
    ]


def _appointments_qs(patient: Patient):
    return (
        Appointment.objects.filter(patient=patient)
        .select_related("patient__organization", "organization", "site")
        .select_related("practitioner__user")
        .order_by("starts_at")
    )


def _appointments(appointments: list[Appointment]) -> list[dict[str, Any]]:
    names = VisitTypeNames.for_appointments(appointments)
    return [
        {
            "public_id": str(appointment.public_id),
            "starts_at": _iso(appointment.starts_at),
            "ends_at": _iso(appointment.ends_at),
            "status": appointment.status,
            "kind": appointment.kind,
            # The kind as the clinic names it, per language (the kind itself
            # where its catalogue lacks it).
            "visit_type": names.names(appointment.organization_id, appointment.kind),
            "site": appointment.site.name,
            "practitioner": str(appointment.practitioner)
            if appointment.practitioner
            else None,
            "external_id": appointment.external_id,
        }
        for appointment in appointments
    ]


def _caregivers(patient: Patient) -> list[dict[str, Any]]:
    caregivers = Caregiver.objects.filter(patient=patient).select_related("user")
    return [
        {
            "relationship": caregiver.relationship,
            "username": caregiver.user.get_username(),
            "since": _iso(caregiver.created_at),
        }
        for caregiver in caregivers.order_by("created_at")
    ]


def _access_audit(patient: Patient) -> list[dict[str, Any]]:
    entries = AccessAudit.objects.filter(patient=patient).order_by("occurred_at", "id")
    return [
        {
            "occurred_at": _iso(entry.occurred_at),
            "who": entry.actor_label,
            "action": entry.action,
            "detail": entry.detail,
        }
        for entry in entries
    ]


def _send_records(patient: Patient) -> list[SendRecord]:
    return list(
        SendRecord.objects.filter(patient=patient)
        .select_related("topic", "patient__organization")
        .order_by("sent_at", "id")
    )


def _communications(records: list[SendRecord]) -> list[dict[str, Any]]:
    return [
        {
            "topic": record.topic.slug,
            "purpose": record.purpose,
            "channel": record.channel,
            "urgent": record.urgent,
            "sent_at": _iso(record.sent_at),
        }
        for record in records
    ]


def export_patient(*, patient: Patient) -> dict[str, Any]:
    """Everything held about ``patient``, as a JSON-able dict.

    Sections: ``patient`` (identity, contact points, language, time zone),
    ``organization``, ``preferences`` (defaults when none were saved),
    ``consent_events`` (the whole ledger with its proof), ``consent_state``,
    ``appointments``, ``caregivers``, ``access_audit``, ``communications``
    (what was sent when and how, never the content), then one section per
    registered exporter. No side effect; the caller audits the export.
    """
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _iso(timezone.now()),
        "organization": _organization(patient),
        "patient": _patient(patient),
        "preferences": _preferences(patient),
        "consent_events": _consent_events(_events(patient)),
        "consent_state": _consent_state(patient),
        "appointments": _appointments(list(_appointments_qs(patient))),
        "caregivers": _caregivers(patient),
        "access_audit": _access_audit(patient),
        "communications": _communications(_send_records(patient)),
    }
    for name, exporter in registry.exporters().items():
        document[name] = exporter(patient)
    return document


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    try:
        full_url = urn_uuid(uuid.UUID(str(resource.get("id"))))
    except ValueError:
        raise FhirMappingError(
            f"A {resource.get('resourceType', '?')} in the export has no UUID id."
        ) from None
    return {"fullUrl": full_url, "resource": resource}


def export_patient_fhir(*, patient: Patient) -> dict[str, Any]:
    """Everything held about ``patient`` as a FHIR R4 Bundle of type collection.

    Holds the Patient, one Consent per ledger event, the Appointments, one
    Communication per message sent, then the registered FHIR exporters'
    resources; every ``fullUrl`` is ``urn:uuid:<id>``. The whole Bundle is
    validated with ``fhir.resources.R4B``. Raises FhirMappingError. No side
    effect; the caller audits the export.
    """
    in_force = set(
        ConsentState.objects.filter(patient=patient).values_list("event_id", flat=True)
    )
    resources = [patient_to_fhir(patient)]
    resources += [
        consent_event_to_fhir(event, in_force=event.pk in in_force)
        for event in _events(patient)
    ]
    appointments = list(_appointments_qs(patient))
    visit_types = VisitTypeNames.for_appointments(appointments)
    resources += [appointment_to_fhir(a, visit_types) for a in appointments]
    resources += [send_record_to_fhir(r) for r in _send_records(patient)]
    for exporter in registry.fhir_exporters():
        resources += exporter(patient)
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": _iso(timezone.now()),
        "entry": [_entry(resource) for resource in resources],
    }
    return fhir_validate(FhirBundle, bundle)
