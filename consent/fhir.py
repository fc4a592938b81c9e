"""FHIR R4 views of the consent ledger (Consent) and of sends (Communication).

Validated with ``fhir.resources.R4B``, wire-compatible with R4 for these
resources (see ``clinic.fhir``).

How a ledger event maps to a Consent, the same way everywhere:

- every event is one Consent, ``id`` = the event's ``public_id``;
- ``provision.type`` is the decision: ``permit`` when granted, ``deny`` when
  withdrawn;
- ``status`` says whether the decision is still the one in force for its scope
  and channel: ``active`` when it is, ``inactive`` when a later event replaced
  it (R4: "inactive — the consent is terminated or replaced"). A withdrawal in
  force is therefore an ``active`` Consent with a ``deny`` provision;
- the purpose is ``provision.purpose`` (system ``urn:liaison:purpose``), a topic
  is ``provision.code`` (system ``urn:liaison:org:<slug>:topic``), the channel is
  the ``consent-channel`` extension on the provision (absent: every channel);
- the GDPR lawful basis of the purpose is ``policyRule``;
- how it was given (source), who recorded it and the wording version shown are
  extensions on the Consent. IP address and user agent stay out of FHIR; the
  JSON export carries them.
"""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.communication import Communication as FhirCommunication
from fhir.resources.R4B.consent import Consent as FhirConsent

from clinic.fhir import (
    fhir_code,
    fhir_datetime,
    fhir_validate,
    organization_reference,
    organization_system,
    patient_reference,
)
from clinic.models import Organization
from consent.models import ConsentEvent, ConsentState, SendRecord, Topic
from consent.vocabulary import LAWFUL_BASIS, Channel

PURPOSE_SYSTEM = "urn:liaison:purpose"
CHANNEL_SYSTEM = "urn:liaison:channel"
LAWFUL_BASIS_SYSTEM = "urn:liaison:lawful-basis"
SOURCE_EXTENSION = "urn:liaison:fhir:consent-source"
RECORDED_BY_EXTENSION = "urn:liaison:fhir:consent-recorded-by"
WORDING_EXTENSION = "urn:liaison:fhir:consent-wording-version"
CHANNEL_EXTENSION = "urn:liaison:fhir:consent-channel"

CONSENT_SCOPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy",
            "display": "Privacy Consent",
        }
    ]
}
CONSENT_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "59284-0",
                "display": "Consent Document",
            }
        ]
    }
]
# http://hl7.org/fhir/R4/valueset-consent-state-codes.html
CONSENT_STATUSES = frozenset(
    {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
)
PROVISION_TYPES = frozenset({"deny", "permit"})

PARTICIPATION_MODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
# SMSWRIT joined ParticipationMode after R4 4.0.1 (terminology.hl7.org); the
# binding is an example one, and each medium also carries Liaison's own code.
CHANNEL_MEDIUM = {
    Channel.INAPP: ("ONLINEWRIT", "online written"),
    Channel.EMAIL: ("EMAILWRIT", "email"),
    Channel.SMS: ("SMSWRIT", "SMS message"),
    Channel.VOICE: ("PHONE", "telephone"),
}
# http://hl7.org/fhir/R4/valueset-event-status.html
EVENT_STATUSES = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)
# Send records have no public id: their Communication id is derived from the
# primary key in this namespace, stable across exports.
SEND_RECORD_NAMESPACE = uuid.UUID("6f1c9a52-3d0e-4c57-9b7e-2a8d1f4e6c31")


def send_record_public_id(record: SendRecord) -> uuid.UUID:
    return uuid.uuid5(SEND_RECORD_NAMESPACE, str(record.pk))


def topic_coding(topic: Topic, organization: Organization) -> dict[str, str]:
    """The topic as a Coding in the organization's topic system."""
    # A topic always belongs to its patient's organization (consent_record checks).
    return {
        "system": organization_system(organization, "topic"),
        "code": topic.slug,
        "display": topic.name_en,
    }


def _consent_extensions(event: ConsentEvent) -> list[dict[str, str]]:
    extensions = [{"url": SOURCE_EXTENSION, "valueCode": event.source}]
    if event.actor_label:
        extensions.append(
            {"url": RECORDED_BY_EXTENSION, "valueString": event.actor_label}
        )
    if event.wording_version:
        extensions.append(
            {"url": WORDING_EXTENSION, "valueString": event.wording_version}
        )
    return extensions


def consent_event_to_fhir(
    event: ConsentEvent, *, in_force: bool | None = None
) -> dict[str, Any]:
    """One ledger event as a FHIR R4 Consent (dict); see the module docstring.

    ``in_force`` says whether the event is the one in force for its scope and
    channel; when None it is looked up (one query). Raises FhirMappingError.
    """
    if in_force is None:
        in_force = ConsentState.objects.filter(event_id=event.pk).exists()
    patient = event.patient
    purpose = event.topic.purpose if event.topic_id else event.purpose
    provision: dict[str, Any] = {
        "type": fhir_code(
            "Consent.provision.type",
            "permit" if event.granted else "deny",
            PROVISION_TYPES,
        ),
        "purpose": [{"system": PURPOSE_SYSTEM, "code": purpose}],
    }
    if event.topic_id:
        provision["code"] = [
            {"coding": [topic_coding(event.topic, patient.organization)]}
        ]
    if event.channel:
        provision["extension"] = [
            {"url": CHANNEL_EXTENSION, "valueCode": event.channel}
        ]
    basis = LAWFUL_BASIS[purpose]
    resource = {
        "resourceType": "Consent",
        "id": str(event.public_id),
        "extension": _consent_extensions(event),
        "status": fhir_code(
            "Consent.status", "active" if in_force else "inactive", CONSENT_STATUSES
        ),
        "scope": CONSENT_SCOPE,
        "category": CONSENT_CATEGORY,
        "patient": patient_reference(patient),
        "dateTime": fhir_datetime(event.occurred_at, patient.time_zone),
        "performer": [patient_reference(patient)],
        "organization": [organization_reference(patient.organization)],
        "policyRule": {
            "coding": [{"system": LAWFUL_BASIS_SYSTEM, "code": basis.value}],
            "text": str(basis.label),
        },
        "provision": provision,
    }
    return fhir_validate(FhirConsent, resource)


def channel_medium(channel: str) -> dict[str, Any]:
    """A channel as a Communication.medium CodeableConcept (v3 ParticipationMode
    and Liaison's own channel code)."""
    code, display = CHANNEL_MEDIUM[channel]
    return {
        "coding": [
            {"system": PARTICIPATION_MODE_SYSTEM, "code": code, "display": display},
            {"system": CHANNEL_SYSTEM, "code": channel},
        ]
    }


def send_record_to_fhir(record: SendRecord) -> dict[str, Any]:
    """A message that left for the patient as a FHIR R4 Communication (dict).

    Says what was sent about (topic, purpose), how (medium) and when; never
    the content. Raises FhirMappingError.
    """
    patient = record.patient
    resource = {
        "resourceType": "Communication",
        "id": str(send_record_public_id(record)),
        "status": fhir_code("Communication.status", "completed", EVENT_STATUSES),
        "category": [{"coding": [{"system": PURPOSE_SYSTEM, "code": record.purpose}]}],
        "priority": "urgent" if record.urgent else "routine",
        "medium": [channel_medium(record.channel)],
        "topic": {"coding": [topic_coding(record.topic, patient.organization)]},
        "subject": patient_reference(patient),
        "recipient": [patient_reference(patient)],
        "sender": organization_reference(patient.organization),
        "sent": fhir_datetime(record.sent_at, patient.time_zone),
    }
    return fhir_validate(FhirCommunication, resource)
