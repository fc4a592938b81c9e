"""Admin for patients' privacy rights: download their data, erase, object.

Read-only and organization-scoped. Each action needs its own permission
(``consent.export_patient_data``, ``consent.erase_patient``,
``consent.record_objection``; roles grant them) and leaves an access-audit row
per patient, which the patient sees.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import AccessAudit, Patient
from clinic.services import access_audit_record
from consent.gdpr.erase import erase_patient
from consent.gdpr.export import export_patient, export_patient_fhir
from consent.gdpr.objection import object_to_automation, patient_objects_to_automation
from consent.models import PatientPreferences, PatientPrivacy
from consent.vocabulary import Source
from core.client_address import client_ip

ERASE_CONFIRMATION_TEMPLATE = "admin/consent/erase_confirmation.html"


def _attachment(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(PatientPrivacy)
class PatientPrivacyAdmin(OrganizationScopedAdmin):
    list_display = [
        "identifier",
        "family_name",
        "given_name",
        "erased_at",
        "objects_to_automation",
    ]
    list_filter = ["organization", ("erased_at", admin.EmptyFieldListFilter)]
    search_fields = ["identifier", "family_name"]
    list_select_related = ["preferences"]
    fields = [
        "organization",
        "identifier",
        "given_name",
        "family_name",
        "preferred_language",
        "public_id",
        "erased_at",
    ]
    readonly_fields = fields
    actions = ["download_json", "download_fhir", "erase_identity", "record_objection"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_export_patient_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("consent.export_patient_data")

    def has_erase_patient_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("consent.erase_patient")

    def has_record_objection_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("consent.record_objection")

    @admin.display(boolean=True, description=_("objects to automated processing"))
    def objects_to_automation(self, obj: Patient) -> bool:
        try:
            return obj.preferences.objects_to_automation
        except PatientPreferences.DoesNotExist:
            return False

    def _only_one(self, request: HttpRequest, queryset: QuerySet) -> Patient | None:
        patients = list(queryset.select_related("organization", "user")[:2])
        if len(patients) == 1:
            return patients[0]
        self.message_user(
            request,
            _("Select exactly one patient to download their data."),
            messages.WARNING,
        )
        return None

    def _audit_export(self, request: HttpRequest, patient: Patient, form: str) -> None:
        access_audit_record(
            patient=patient,
            action=AccessAudit.Action.EXPORT,
            actor=request.user,
            detail=form,
            client_address=client_ip(request),
        )

    @admin.action(
        description=_("Download data (JSON)"), permissions=["export_patient_data"]
    )
    def download_json(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        patient = self._only_one(request, queryset)
        if patient is None:
            return None
        document = export_patient(patient=patient)
        self._audit_export(request, patient, "JSON")
        return _attachment(
            json.dumps(document, ensure_ascii=False, indent=2),
            "application/json",
            f"patient-{patient.public_id}.json",
        )

    @admin.action(
        description=_("Download data (FHIR Bundle)"),
        permissions=["export_patient_data"],
    )
    def download_fhir(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        patient = self._only_one(request, queryset)
        if patient is None:
            return None
        bundle = export_patient_fhir(patient=patient)
        self._audit_export(request, patient, "FHIR Bundle")
        return _attachment(
            json.dumps(bundle, ensure_ascii=False, indent=2),
            "application/fhir+json",
            f"patient-{patient.public_id}.fhir.json",
        )

    @admin.action(description=_("Erase identity"), permissions=["erase_patient"])
    def erase_identity(
        self, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse | None:
        # Two steps, like delete_selected: a confirmation page, then its POST.
        if not request.POST.get("post"):
            return self._erase_confirmation(request, queryset)
        erased = already = 0
        for patient in queryset:
            report = erase_patient(patient=patient, actor=request.user)
            already += report.already_erased
            erased += not report.already_erased
        if erased:
            self.message_user(
                request,
                ngettext(
                    "Erased the identity of %(count)d patient.",
                    "Erased the identity of %(count)d patients.",
                    erased,
                )
                % {"count": erased},
                messages.SUCCESS,
            )
        if already:
            self.message_user(
                request,
                ngettext(
                    "%(count)d patient was already erased.",
                    "%(count)d patients were already erased.",
                    already,
                )
                % {"count": already},
                messages.INFO,
            )
        return None

    def _erase_confirmation(
        self, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse:
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase identity"),
            "subtitle": None,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "erase_identity",
            "media": self.media,
        }
        return TemplateResponse(request, ERASE_CONFIRMATION_TEMPLATE, context)

    @admin.action(
        description=_("Record objection to automated processing"),
        permissions=["record_objection"],
    )
    def record_objection(self, request: HttpRequest, queryset: QuerySet) -> None:
        recorded = 0
        for patient in queryset:
            if patient_objects_to_automation(patient=patient):
                continue
            object_to_automation(
                patient=patient, actor=request.user, source=Source.STAFF
            )
            recorded += 1
        self.message_user(
            request,
            ngettext(
                "Recorded the objection of %(count)d patient.",
                "Recorded the objection of %(count)d patients.",
                recorded,
            )
            % {"count": recorded},
            messages.SUCCESS,
        )
