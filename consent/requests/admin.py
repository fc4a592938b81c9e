"""Admin for patients' erasure requests: read-only, due date first, erase now.

A request the patient withdrew stays listed, marked withdrawn with who and
when, and "Erase now" leaves it alone.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from clinic.admin_scoping import OrganizationScopedAdmin
from consent.requests.models import ErasureRequest
from consent.requests.services import ErasureRequestClosedError, erasure_request_fulfil


@admin.register(ErasureRequest)
class ErasureRequestAdmin(OrganizationScopedAdmin):
    list_display = [
        "patient",
        "requested_at",
        "due_at",
        "overdue",
        "status",
        "handled_at",
        "handled_by",
    ]
    list_filter = ["status"]
    search_fields = ["patient__identifier", "patient__family_name"]
    list_select_related = ["patient", "handled_by"]
    fields = [
        "patient",
        "requested_at",
        "requested_by",
        "status",
        "due_at",
        "handled_at",
        "handled_by",
        "withdrawn_at",
        "withdrawn_by",
        "note",
    ]
    readonly_fields = fields
    actions = ["erase_now"]

    def get_ordering(self, request: HttpRequest) -> list:
        # Open requests first, the most overdue at the top; then handled ones.
        open_first = Case(
            When(status=ErasureRequest.Status.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [open_first.asc(), "due_at"]

    # Staff who may see privacy requests see erasure requests too.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or request.user.has_perm(
            "consent.view_patientprivacy"
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_erase_patient_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("consent.erase_patient")

    @admin.display(boolean=True, description=_("overdue"))
    def overdue(self, obj: ErasureRequest) -> bool:
        return obj.status == ErasureRequest.Status.OPEN and obj.due_at < timezone.now()

    @admin.action(description=_("Erase now"), permissions=["erase_patient"])
    def erase_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        handled = closed = 0
        for erasure_request in queryset.select_related("patient"):
            try:
                erasure_request_fulfil(
                    erasure_request=erasure_request, actor=request.user
                )
            except ErasureRequestClosedError:
                # Withdrawn by the patient or already handled, possibly
                # since the list was shown.
                closed += 1
            else:
                handled += 1
        if closed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d request was withdrawn or already handled: "
                    "nothing was erased for it.",
                    "%(count)d requests were withdrawn or already handled: "
                    "nothing was erased for them.",
                    closed,
                )
                % {"count": closed},
                messages.WARNING,
            )
        if not handled:
            return
        self.message_user(
            request,
            ngettext(
                "Erased %(count)d patient and closed the request.",
                "Erased %(count)d patients and closed their requests.",
                handled,
            )
            % {"count": handled},
            messages.SUCCESS,
        )
