"""My data: download it, ask for erasure, object to automation, see who read it."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from clinic.models import AccessAudit, Patient
from clinic.services import access_audit_record
from consent.gdpr.export import export_patient, export_patient_fhir
from consent.gdpr.objection import object_to_automation, patient_objects_to_automation
from consent.requests import erasure_request_create, erasure_request_open_get
from consent.vocabulary import Source
from portal.access import SCOPES, patient_required
from portal.privacy import access_audit_entries, export_fhir_for, export_for
from portal.views_appointments import render_for

ACCESS_LOG_PAGE_SIZE = 25


def data_rights_required(view: Callable[..., HttpResponse]) -> Callable:
    """The patient, or a caregiver who may see every part of the record: an
    export or an erasure covers all of it, so a narrower scope is not enough."""

    @patient_required("preferences")
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not all(request.portal.allows(scope) for scope in SCOPES):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _attachment(document: dict, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2),
        content_type=f"{content_type}; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _audit_export(request: HttpRequest, patient: Patient, form: str) -> None:
    access_audit_record(
        patient=patient,
        action=AccessAudit.Action.EXPORT,
        actor=request.user,
        detail=f"{form} (portal)",
    )


@data_rights_required
def data_home(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    return render_for(
        request,
        patient,
        "portal/data/home.html",
        {
            "erasure_request": erasure_request_open_get(patient=patient),
            "objects": patient_objects_to_automation(patient=patient),
        },
    )


@data_rights_required
def data_export_json(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    # A caregiver's copy leaves out what the patient hid from proxies.
    document = export_for(
        access=request.portal, document=export_patient(patient=patient)
    )
    _audit_export(request, patient, "JSON")
    return _attachment(
        document, "application/json", f"my-data-{patient.public_id}.json"
    )


@data_rights_required
def data_export_fhir(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    bundle = export_fhir_for(
        access=request.portal, bundle=export_patient_fhir(patient=patient)
    )
    _audit_export(request, patient, "FHIR Bundle")
    return _attachment(
        bundle, "application/fhir+json", f"my-data-{patient.public_id}.fhir.json"
    )


@require_POST
@data_rights_required
def data_erasure(request: HttpRequest) -> HttpResponse:
    erasure_request_create(patient=request.portal.patient, requested_by=request.user)
    messages.success(
        request,
        _("Your request is recorded. The clinic will answer within one month."),
    )
    return redirect("portal:data")


@require_POST
@data_rights_required
def data_objection(request: HttpRequest) -> HttpResponse:
    objects = request.POST.get("objects") != "no"
    object_to_automation(
        patient=request.portal.patient,
        objects=objects,
        actor=request.user,
        source=Source.PORTAL,
    )
    messages.success(
        request,
        _("Your objection is recorded.") if objects else _("Your objection is lifted."),
    )
    return redirect("portal:data")


@data_rights_required
def data_access_log(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    entries = access_audit_entries(access=request.portal)
    page = Paginator(entries, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render_for(request, patient, "portal/data/access_log.html", {"page": page})
