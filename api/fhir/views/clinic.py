"""Patient (read, search) and Appointment (read, search, create, update)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from django.db import transaction
from django.db.models import Q

from api.fhir.base import FhirError
from api.fhir.parsing import appointment_input
from api.fhir.resources import appointment_resource, patient_resource
from api.fhir.search import (
    SearchParam,
    date_param,
    last_updated_param,
    reference_param,
    string_param,
)
from api.fhir.views.base import FhirInstanceView, FhirTypeView, FhirVersionView
from api.scopes import Scope
from clinic.appointments.actions import AppointmentActionError, appointment_cancel
from clinic.fhir import organization_system
from clinic.models import Appointment, AppointmentStatus, Patient
from clinic.services import appointment_create, appointment_save
from clinic.visit_types import VisitTypeNames


def _identifier(view, value: str, modifier: str) -> Q:
    system, bar, code = value.rpartition("|")
    if bar and system != organization_system(view.organization, "patient"):
        return Q(pk__in=[])  # another system's identifiers: Liaison holds none
    return Q(identifier=code)


PATIENT_SEARCH = {
    "identifier": SearchParam(
        "token",
        "The clinic's patient number: system|value (system "
        "urn:liaison:org:<slug>:patient) or the value alone.",
        _identifier,
    ),
    "family": string_param("family_name", "Family name, starts with (any case)."),
    "given": string_param("given_name", "Given name, starts with (any case)."),
    "birthdate": date_param(
        "birth_date", "Birth date (eq, ne, lt, le, gt, ge).", dates_only=True
    ),
    "_lastUpdated": last_updated_param(),
}


class PatientMixin:
    resource_type = "Patient"
    read_scope = Scope.PATIENTS_READ

    def queryset(self):
        return Patient.objects.for_organization(self.organization).select_related(
            "organization"
        )

    def to_fhir(self, patient):
        return patient_resource(patient)

    def patient_of(self, patient):
        return patient


class PatientInstanceView(PatientMixin, FhirInstanceView):
    pass


class PatientTypeView(PatientMixin, FhirTypeView):
    search_params = PATIENT_SEARCH


# FHIR status → the domain's, for a search. "booked" covers confirmed ones.
APPOINTMENT_STATUS_SEARCH = {
    "booked": [AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED],
    "cancelled": [AppointmentStatus.CANCELLED],
    "noshow": [AppointmentStatus.NO_SHOW],
    "fulfilled": [AppointmentStatus.FULFILLED],
}


def _appointment_status(view, value: str, modifier: str) -> Q:
    return Q(status__in=APPOINTMENT_STATUS_SEARCH.get(value, []))


APPOINTMENT_SEARCH = {
    "patient": reference_param(
        "patient__public_id", "Patient", "The patient: Patient/<id>."
    ),
    "date": date_param(
        "starts_at",
        "When it starts (eq, ne, lt, le, gt, ge); dates are the organization's days.",
    ),
    "status": SearchParam(
        "token", "booked, cancelled, noshow or fulfilled.", _appointment_status
    ),
    "_lastUpdated": last_updated_param(),
}


class AppointmentMixin:
    resource_type = "Appointment"
    read_scope = Scope.PATIENTS_READ
    write_scope = Scope.APPOINTMENTS_WRITE
    fhir_fields = {
        "starts_at": "Appointment.start",
        "ends_at": "Appointment.end",
        "kind": "Appointment.appointmentType",
        "preparation_notes": "Appointment.patientInstruction",
        "external_id": "Appointment.identifier",
        "site": "Appointment.participant",
        "patient": "Appointment.participant",
        "__all__": "Appointment",
    }

    def queryset(self):
        return Appointment.objects.for_organization(self.organization).select_related(
            "organization",
            "patient__organization",
            "site__organization",
            "practitioner__user",
        )

    def to_fhir(self, appointment):
        return appointment_resource(appointment)

    def to_fhir_page(self, rows):
        # One catalogue query for the page, not one per appointment.
        visit_types = VisitTypeNames.for_appointments(rows)
        return [appointment_resource(row, visit_types) for row in rows]

    def respond(self, appointment, status_code: int = 200) -> Response:
        appointment = self.queryset().get(pk=appointment.pk)
        return self.versioned(self.to_fhir(appointment), status_code)


def _refuse_status(status_value: str) -> FhirError:
    return FhirError(
        f"Liaison takes an appointment as booked or cancelled, not {status_value}.",
        code="business-rule",
        status_code=422,
        expression="Appointment.status",
    )


class AppointmentTypeView(AppointmentMixin, FhirTypeView):
    interactions = ("search-type", "create")
    search_params = APPOINTMENT_SEARCH

    def post(self, request):
        data = appointment_input(request.data, self.organization)
        if data.status != "booked":
            raise _refuse_status(data.status)
        appointment = appointment_create(patient=data.patient, **data.fields)
        return self.respond(appointment, status.HTTP_201_CREATED)


class AppointmentVersionView(AppointmentMixin, FhirVersionView):
    pass


class AppointmentInstanceView(AppointmentMixin, FhirInstanceView):
    interactions = ("read", "update")

    @transaction.atomic
    def put(self, request, id):
        appointment = self.object_get(
            id, self.queryset().select_for_update(of=("self",))
        )
        body_id = request.data.get("id") if isinstance(request.data, dict) else None
        if str(body_id).lower() != str(id):
            raise FhirError(
                "The resource's id must be the one in the URL.",
                expression="Appointment.id",
            )
        data = appointment_input(request.data, self.organization)
        if data.patient.pk != appointment.patient_id:
            raise FhirError(
                "An appointment cannot move to another patient.",
                code="not-supported",
                expression="Appointment.participant",
            )
        current = appointment_resource(appointment)["status"]
        if data.status not in (current, "cancelled"):
            if current == "cancelled" and data.status == "booked":
                raise AppointmentActionError(
                    "A cancelled appointment cannot be booked again; create a new one."
                )
            raise _refuse_status(data.status)
        changed = {
            name: value
            for name, value in data.fields.items()
            if getattr(appointment, name) != value
        }
        if changed:
            for name, value in changed.items():
                setattr(appointment, name, value)
            appointment = appointment_save(appointment=appointment)
        if data.status == "cancelled" and current != "cancelled":
            appointment = appointment_cancel(appointment=appointment)
        return self.respond(appointment)
