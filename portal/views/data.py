"""My data: download it, ask for erasure, object to automation, see who read it.

Asking for erasure and objecting each go through a page that says what will
happen, and act only on that page's explicit confirmation (``ConfirmForm``);
a pending erasure request can be withdrawn, a current objection lifted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from clinic.models import AccessAudit, Patient
from clinic.services import access_audit_record
from consent.gdpr.export import export_patient, export_patient_fhir
from consent.gdpr.objection import (
    object_to_automation,
    objection_since,
    patient_objects_to_automation,
)
from consent.requests.models import ERASURE_DELAY, ErasureRequest
from consent.requests.services import (
    ErasureRequestClosedError,
    erasure_request_create,
    erasure_request_get,
    erasure_request_open_get,
    erasure_request_withdraw,
)
from consent.vocabulary import Source
from portal.access import SCOPES, patient_required
from portal.forms.confirm import ConfirmForm
from portal.privacy import access_audit_entries, export_fhir_for, export_for
from portal.summary.content import summary_for
from portal.summary.pdf import summary_pdf
from portal.views.appointments import patient_locale, render_for

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
            "objected_at": objection_since(patient=patient),
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


@require_GET
@never_cache
@data_rights_required
def data_summary(request: HttpRequest) -> HttpResponse:
    """Everything the JSON download holds, as a page to read and print."""
    patient = request.portal.patient
    with patient_locale(request, patient):
        summary = summary_for(access=request.portal)
    _audit_export(request, patient, "Summary page")
    return render_for(
        request, patient, "portal/data/summary.html", {"summary": summary}
    )


@require_GET
@never_cache
@data_rights_required
def data_summary_pdf(request: HttpRequest) -> HttpResponse:
    """The same summary as a PDF file, named by its date only."""
    patient = request.portal.patient
    with patient_locale(request, patient):
        summary = summary_for(access=request.portal)
        content = summary_pdf(summary)
    _audit_export(request, patient, "Summary PDF")
    response = HttpResponse(content, content_type="application/pdf")
    filename = f"liaison-summary-{summary.generated_on.isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _confirmed(request: HttpRequest, action: str) -> bool:
    return (
        request.method == "POST" and ConfirmForm(request.POST, action=action).is_valid()
    )


@require_http_methods(["GET", "POST"])
@data_rights_required
def data_erasure(request: HttpRequest) -> HttpResponse:
    """What erasure does and keeps, then the request on explicit confirmation."""
    patient = request.portal.patient
    if erasure_request_open_get(patient=patient) is not None:
        return redirect("portal:data")
    if _confirmed(request, "erasure"):
        erasure_request_create(patient=patient, requested_by=request.user)
        messages.success(
            request,
            _(
                "Your request is recorded. Nothing is erased yet: the clinic "
                "reviews it, and you can withdraw it until then."
            ),
        )
        return redirect("portal:data")
    return render_for(
        request,
        patient,
        "portal/data/erasure_confirm.html",
        {
            "form": ConfirmForm(action="erasure"),
            "due_at": timezone.now() + ERASURE_DELAY,
        },
    )


# Why a request cannot be withdrawn, by its status.
_CLOSED = {
    ErasureRequest.Status.DONE: gettext_lazy(
        "This request has already been carried out: it can no longer be withdrawn."
    ),
    ErasureRequest.Status.REFUSED: gettext_lazy(
        "The clinic has already answered this request: it can no longer be withdrawn."
    ),
    ErasureRequest.Status.WITHDRAWN: gettext_lazy(
        "This request was already withdrawn."
    ),
}


@require_http_methods(["GET", "POST"])
@data_rights_required
def data_erasure_withdraw(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET asks for confirmation; POST withdraws the pending request."""
    patient = request.portal.patient
    try:
        erasure_request = erasure_request_get(patient=patient, public_id=public_id)
    except ErasureRequest.DoesNotExist:
        raise Http404 from None
    if request.method == "GET":
        if erasure_request.status != ErasureRequest.Status.OPEN:
            return redirect("portal:data")
        return _confirmation(request, "portal/data/erasure_withdraw_confirm.html")
    try:
        erasure_request_withdraw(
            erasure_request=erasure_request, withdrawn_by=request.user
        )
    except ErasureRequestClosedError as error:
        messages.error(request, _CLOSED[error.status])
    else:
        messages.success(
            request, _("Your erasure request is withdrawn. Nothing was erased.")
        )
    return redirect("portal:data")


@require_http_methods(["GET", "POST"])
@data_rights_required
def data_objection(request: HttpRequest) -> HttpResponse:
    """What an objection changes, then the objection on explicit confirmation."""
    patient = request.portal.patient
    if patient_objects_to_automation(patient=patient):
        return redirect("portal:data")
    if _confirmed(request, "objection"):
        object_to_automation(
            patient=patient, objects=True, actor=request.user, source=Source.PORTAL
        )
        messages.success(request, _("Your objection is recorded."))
        return redirect("portal:data")
    return render_for(
        request,
        patient,
        "portal/data/objection_confirm.html",
        {"form": ConfirmForm(action="objection")},
    )


@require_http_methods(["GET", "POST"])
@data_rights_required
def data_objection_lift(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST lifts the objection."""
    if request.method == "GET":
        if not patient_objects_to_automation(patient=request.portal.patient):
            return redirect("portal:data")
        return _confirmation(request, "portal/data/objection_lift_confirm.html")
    object_to_automation(
        patient=request.portal.patient,
        objects=False,
        actor=request.user,
        source=Source.PORTAL,
    )
    messages.success(request, _("Your objection is lifted."))
    return redirect("portal:data")


def _confirmation(request: HttpRequest, template: str) -> HttpResponse:
    return render_for(
        request,
        request.portal.patient,
        template,
        {"action_url": request.path, "back_url": reverse("portal:data")},
    )


@data_rights_required
def data_access_log(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    entries = access_audit_entries(access=request.portal)
    page = Paginator(entries, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render_for(request, patient, "portal/data/access_log.html", {"page": page})
