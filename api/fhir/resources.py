"""Liaison's records as the FHIR resources the API serves.

Patient, Appointment and Consent reuse the mappings of the GDPR export
(``clinic.fhir``, ``consent.fhir``) and adapt them to a RESTful server:
references become ``Patient/<id>`` (the export's ``urn:uuid:`` form only
resolves inside its Bundle), ``meta.versionId`` and ``lastUpdated`` are set, and an
Appointment's Location carries the site's id so a read resource can be sent
back with PUT. Messages are Communication (what was sent and how it fared)
and, for those a partner asked for, CommunicationRequest.

Neither carries the message text: the partner wrote it, and reading it back
would put health data in every sync of delivery statuses.
"""

from __future__ import annotations

import datetime
from typing import Any

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.communication import Communication as FhirCommunication
from fhir.resources.R4B.communicationrequest import (
    CommunicationRequest as FhirCommunicationRequest,
)
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.patient import Patient as FhirPatient

from clinic.fhir import (
    appointment_to_fhir,
    fhir_datetime,
    fhir_validate,
    organization_reference,
    organization_system,
    patient_to_fhir,
)
from clinic.models import Appointment, Patient, Site
from clinic.visit_types import VisitTypeNames
from consent.fhir import (
    PURPOSE_SYSTEM,
    channel_medium,
    consent_event_to_fhir,
    topic_coding,
)
from consent.models import ConsentEvent
from messaging.models import Delivery, DeliveryStatus, Message

URN_UUID = "urn:uuid:"
DELIVERY_EXTENSION = "urn:liaison:fhir:delivery"
DELIVERY_REASON_SYSTEM = "urn:liaison:delivery-reason"

# A delivery's status as a FHIR event status (Communication.status).
EVENT_STATUS = {
    DeliveryStatus.QUEUED: "preparation",
    DeliveryStatus.DEFERRED: "preparation",
    DeliveryStatus.SENDING: "in-progress",
    DeliveryStatus.UNKNOWN: "unknown",
    DeliveryStatus.SENT: "completed",
    DeliveryStatus.DELIVERED: "completed",
    DeliveryStatus.READ: "completed",
    DeliveryStatus.FAILED: "not-done",
    DeliveryStatus.BOUNCED: "not-done",
    DeliveryStatus.SUPPRESSED: "not-done",
    DeliveryStatus.CANCELLED: "not-done",
}
# The message's status is its furthest delivery's: one channel that got
# through makes the communication completed.
EVENT_STATUS_ORDER = ["completed", "in-progress", "preparation", "unknown", "not-done"]
# Communication status → CommunicationRequest status (request-status).
REQUEST_STATUS = {
    "completed": "completed",
    "in-progress": "active",
    "preparation": "active",
    "unknown": "active",
    "not-done": "revoked",
}


def rest_references(value: Any) -> Any:
    """``{"reference": "urn:uuid:<id>", "type": T}`` → ``"T/<id>"``, throughout."""
    if isinstance(value, list):
        return [rest_references(item) for item in value]
    if not isinstance(value, dict):
        return value
    found = {key: rest_references(item) for key, item in value.items()}
    reference = found.get("reference")
    if (
        isinstance(reference, str)
        and reference.startswith(URN_UUID)
        and "type" in found
    ):
        found["reference"] = f"{found['type']}/{reference.removeprefix(URN_UUID)}"
    return found


def version_id(moment: datetime.datetime) -> str:
    """``meta.versionId``: the last change's time in microseconds since the
    epoch. Every change moves it (``updated_at``), and no history is kept:
    only the current version can be read (``_history/<versionId>``)."""
    moment = moment.astimezone(datetime.UTC)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return str((moment - epoch) // datetime.timedelta(microseconds=1))


def _meta(moment: datetime.datetime) -> dict[str, str]:
    return {"versionId": version_id(moment), "lastUpdated": fhir_datetime(moment)}


def patient_resource(patient: Patient) -> dict[str, Any]:
    resource = rest_references(patient_to_fhir(patient))
    resource["meta"] = _meta(patient.updated_at)
    return fhir_validate(FhirPatient, resource)


def site_identifier(site: Site) -> dict[str, str]:
    return {
        "system": organization_system(site.organization, "site"),
        "value": str(site.public_id),
    }


def appointment_resource(
    appointment: Appointment, visit_types: VisitTypeNames | None = None
) -> dict[str, Any]:
    resource = rest_references(appointment_to_fhir(appointment, visit_types))
    resource["meta"] = _meta(appointment.updated_at)
    for participant in resource["participant"]:
        if participant["actor"].get("type") == "Location":
            participant["actor"]["identifier"] = site_identifier(appointment.site)
    return fhir_validate(FhirAppointment, resource)


def consent_resource(event: ConsentEvent, *, in_force: bool) -> dict[str, Any]:
    resource = rest_references(consent_event_to_fhir(event, in_force=in_force))
    resource["meta"] = _meta(event.occurred_at)
    return fhir_validate(FhirConsent, resource)


def _delivery_extension(delivery: Delivery) -> dict[str, Any]:
    parts = [
        {"url": "channel", "valueCode": delivery.channel},
        {"url": "status", "valueCode": delivery.status},
    ]
    if delivery.reason:
        parts.append({"url": "reason", "valueCode": delivery.reason})
    return {"url": DELIVERY_EXTENSION, "extension": parts}


def _status_reason(deliveries: list[Delivery]) -> dict[str, Any] | None:
    """Why nothing got through: the reason of the first channel that gave one."""
    for delivery in deliveries:
        if delivery.reason:
            return {
                "coding": [{"system": DELIVERY_REASON_SYSTEM, "code": delivery.reason}],
                "text": delivery.reason_label,
            }
    return None


def message_status(message: Message, deliveries: list[Delivery]) -> str:
    """The message as one FHIR event status, from its deliveries."""
    if message.direction == Message.Direction.INBOUND:
        return "completed"
    statuses = {EVENT_STATUS[d.status] for d in deliveries} or {"not-done"}
    return next(s for s in EVENT_STATUS_ORDER if s in statuses)


def _message_parts(message: Message) -> dict[str, Any]:
    """What Communication and CommunicationRequest say alike about a message."""
    deliveries = message.deliveries_in_order
    patient = message.patient
    status = message_status(message, deliveries)
    moments = [message.created_at, *(d.updated_at for d in deliveries)]
    parts: dict[str, Any] = {
        "id": str(message.public_id),
        "meta": _meta(max(moments)),
        "status": status,
        "category": [
            {"coding": [topic_coding(message.topic, patient.organization)]},
            {"coding": [{"system": PURPOSE_SYSTEM, "code": message.topic.purpose}]},
        ],
        "priority": "urgent" if message.topic.urgent else "routine",
        "subject": {"reference": f"Patient/{patient.public_id}", "type": "Patient"},
    }
    if deliveries:
        parts["extension"] = [_delivery_extension(d) for d in deliveries]
    reason = _status_reason(deliveries) if status == "not-done" else None
    if reason:
        parts["statusReason"] = reason
    return parts


def communication_resource(message: Message) -> dict[str, Any]:
    """A message (either way) as a FHIR Communication, validated."""
    parts = _message_parts(message)
    patient = message.patient
    deliveries = message.deliveries_in_order
    resource: dict[str, Any] = {"resourceType": "Communication", **parts}
    resource["topic"] = resource.pop("category")[0]
    resource["category"] = [
        {"coding": [{"system": PURPOSE_SYSTEM, "code": message.topic.purpose}]}
    ]
    if message.origin == Message.Origin.API:
        resource["basedOn"] = [
            {
                "reference": f"CommunicationRequest/{message.public_id}",
                "type": "CommunicationRequest",
            }
        ]
    used = [
        d.channel
        for d in sorted(deliveries, key=lambda d: d.pk)
        if EVENT_STATUS[d.status] in ("completed", "in-progress", "unknown")
    ]
    if used:
        resource["medium"] = [channel_medium(channel) for channel in used]
    organization = organization_reference(patient.organization)
    subject = resource["subject"]
    if message.direction == Message.Direction.INBOUND:
        resource["sender"], resource["recipient"] = subject, [organization]
        resource["received"] = fhir_datetime(message.created_at, patient.time_zone)
    else:
        resource["sender"], resource["recipient"] = organization, [subject]
        sent = [d.sent_at for d in deliveries if d.sent_at]
        if sent:
            resource["sent"] = fhir_datetime(min(sent), patient.time_zone)
        received = [d.delivered_at for d in deliveries if d.delivered_at]
        if received:
            resource["received"] = fhir_datetime(min(received), patient.time_zone)
    return fhir_validate(FhirCommunication, resource)


def communication_request_resource(message: Message) -> dict[str, Any]:
    """A message a partner asked for, as the CommunicationRequest it sent."""
    parts = _message_parts(message)
    patient = message.patient
    resource: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        **parts,
        "status": REQUEST_STATUS[parts["status"]],
        "recipient": [parts["subject"]],
        "sender": organization_reference(patient.organization),
        "authoredOn": fhir_datetime(message.created_at, patient.time_zone),
    }
    if message.origin_ref:
        resource["requester"] = {"display": message.origin_ref}
    return fhir_validate(FhirCommunicationRequest, resource)
