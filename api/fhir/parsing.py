"""Resources sent by partners: validated as FHIR R4, then read into the
arguments of the domain services. No rule of the domain is checked here;
the services raise their own errors."""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pydantic
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.communicationrequest import (
    CommunicationRequest as FhirCommunicationRequest,
)

from api.fhir.base import FhirError
from clinic.fhir import organization_system
from clinic.models import Organization, Patient, Site

_REFERENCE = re.compile(r"(?:^|/)(\w+)/([0-9a-fA-F-]{36})$")


def resource_body(data: Any, model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """``data`` if it is a valid resource of ``model``'s type; FhirError (400)
    listing each invalid element (never its value) otherwise."""
    resource_type = model.__name__
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        raise FhirError(
            f"The body must be a {resource_type} resource.",
            code="structure",
            expression=resource_type,
        )
    try:
        model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            (
                "structure",
                f"{error['msg']}.".replace("..", "."),
                ".".join([resource_type, *map(str, error["loc"])]),
            )
            for error in exc.errors()
        ]
        raise FhirError(
            f"The {resource_type} is not valid FHIR R4.", issues=problems
        ) from None
    return data


def referenced_id(reference: Any, resource_type: str, expression: str) -> uuid.UUID:
    """The id of a ``Type/<id>`` reference (or an absolute URL ending so)."""
    found = _REFERENCE.search(reference.get("reference") or "") if reference else None
    if found is None or found.group(1) != resource_type:
        raise FhirError(
            f"Expected a reference to {resource_type}/<id>.", expression=expression
        )
    return uuid.UUID(found.group(2))


def patient_referenced(
    reference: Any, organization: Organization, expression: str
) -> Patient:
    public_id = referenced_id(reference, "Patient", expression)
    patient = (
        Patient.objects.for_organization(organization)
        .select_related("organization")
        .filter(public_id=public_id)
        .first()
    )
    if patient is None:
        raise FhirError(
            "No such Patient in this organization.",
            code="not-found",
            expression=expression,
        )
    return patient


def _instant(value: str | None, expression: str) -> datetime.datetime:
    if not value:
        raise FhirError(
            f"{expression} is required.", code="required", expression=expression
        )
    # FHIR validation above guarantees an instant with its UTC offset.
    return datetime.datetime.fromisoformat(value)


def _site(actor: dict[str, Any], organization: Organization) -> Site | None:
    sites = Site.objects.for_organization(organization)
    expression = "Appointment.participant.actor"
    if actor.get("reference"):
        public_id = referenced_id(actor, "Location", expression)
    else:
        identifier = actor.get("identifier") or {}
        if identifier.get("system") != organization_system(organization, "site"):
            raise FhirError(
                "Name the site by its Location identifier "
                f"(system {organization_system(organization, 'site')}).",
                expression=expression,
            )
        try:
            public_id = uuid.UUID(identifier.get("value", ""))
        except ValueError:
            public_id = None
    site = sites.filter(public_id=public_id).first() if public_id else None
    if site is None:
        raise FhirError(
            "No such Location (site) in this organization.",
            code="not-found",
            expression=expression,
        )
    return site


@dataclass
class AppointmentInput:
    status: str
    patient: Patient
    fields: dict[str, Any]  # site, times, kind, preparation_notes, external_id


def appointment_input(data: Any, organization: Organization) -> AppointmentInput:
    """An Appointment body as the patient, its FHIR status and the fields of
    ``clinic.services.appointment_save``; FhirError (400) otherwise."""
    resource = resource_body(data, FhirAppointment)
    patient = site = None
    for participant in resource["participant"]:
        actor = participant.get("actor") or {}
        reference = actor.get("reference") or ""
        kind = actor.get("type") or reference.rpartition("/")[0].rpartition("/")[2]
        if kind == "Patient":
            if patient is not None:
                raise FhirError(
                    "An appointment has one Patient participant.",
                    code="not-supported",
                    expression="Appointment.participant",
                )
            patient = patient_referenced(
                actor, organization, "Appointment.participant.actor"
            )
        elif kind == "Location":
            site = _site(actor, organization)
    if patient is None:
        raise FhirError(
            "Name the patient as a participant: actor Patient/<id>.",
            code="required",
            expression="Appointment.participant",
        )
    if site is None:
        sites = list(Site.objects.for_organization(organization)[:2])
        if len(sites) != 1:
            raise FhirError(
                "Name the site as a Location participant.",
                code="required",
                expression="Appointment.participant",
            )
        site = sites[0]
    fields = {
        "site": site,
        "starts_at": _instant(resource.get("start"), "Appointment.start"),
        "ends_at": _instant(resource.get("end"), "Appointment.end"),
        "kind": _kind(resource.get("appointmentType")),
        "preparation_notes": resource.get("patientInstruction") or "",
        "external_id": _external_id(resource.get("identifier"), organization),
    }
    return AppointmentInput(resource["status"], patient, fields)


def _kind(concept: dict[str, Any] | None) -> str:
    if not concept:
        return ""
    if concept.get("text"):
        return concept["text"]
    coding = (concept.get("coding") or [{}])[0]
    return coding.get("display") or coding.get("code") or ""


def _external_id(identifiers: list | None, organization: Organization) -> str:
    system = organization_system(organization, "appointment")
    for identifier in identifiers or []:
        if identifier.get("system") == system:
            return identifier.get("value", "")
    return ""


# CommunicationRequest elements that change what is sent, to whom or when:
# refused rather than ignored, so a request is never carried out otherwise
# than asked.
REFUSED_ELEMENTS = (
    "basedOn",
    "replaces",
    "groupIdentifier",
    "doNotPerform",
    "medium",
    "about",
    "encounter",
    "occurrenceDateTime",
    "occurrencePeriod",
    "reasonReference",
)


@dataclass
class MessageInput:
    patient: Patient
    topic: str  # the topic's slug
    text: str


def message_input(data: Any, organization: Organization) -> MessageInput:
    """A CommunicationRequest as the arguments of ``message_send``."""
    resource = resource_body(data, FhirCommunicationRequest)
    for element in REFUSED_ELEMENTS:
        if element in resource:
            raise FhirError(
                f"Liaison does not take CommunicationRequest.{element}.",
                code="not-supported",
                expression=f"CommunicationRequest.{element}",
            )
    if resource["status"] != "active":
        raise FhirError(
            "A CommunicationRequest to send is active.",
            code="value",
            expression="CommunicationRequest.status",
        )
    patient = patient_referenced(
        resource.get("subject"), organization, "CommunicationRequest.subject"
    )
    for index, recipient in enumerate(resource.get("recipient") or []):
        expression = f"CommunicationRequest.recipient[{index}]"
        if referenced_id(recipient, "Patient", expression) != patient.public_id:
            raise FhirError(
                "Messages go to the subject only.",
                code="not-supported",
                expression=expression,
            )
    system = organization_system(organization, "topic")
    topics = [
        coding.get("code", "")
        for concept in resource.get("category") or []
        for coding in concept.get("coding") or []
        if coding.get("system") == system
    ]
    if len(topics) != 1:
        raise FhirError(
            f"Name one topic: a category coding with system {system}.",
            code="required",
            expression="CommunicationRequest.category",
        )
    texts = []
    for index, payload in enumerate(resource.get("payload") or []):
        if "contentString" not in payload:
            raise FhirError(
                "A payload is text (contentString).",
                code="not-supported",
                expression=f"CommunicationRequest.payload[{index}]",
            )
        texts.append(payload["contentString"])
    if len(texts) > 1:
        raise FhirError(
            "Send one text per message.",
            code="not-supported",
            expression="CommunicationRequest.payload",
        )
    return MessageInput(patient, topics[0], texts[0] if texts else "")
