"""Admin that shows a staff user only their own organization's rows, and
writes the access audit for the patients whose records a page shows."""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse

from clinic.models import AccessAudit, Patient
from clinic.scoping import OrganizationScopedQuerySet, staff_organization_id
from clinic.services import access_audit_record_many
from core.client_address import client_ip

# ``audit_patient_path`` not set: found from the model (see ``_audit_path``).
FIND = object()


def staff_access_audit(
    request: HttpRequest, patient_ids: Iterable[int], *, action: str, detail: str
) -> int:
    """The access audit of a staff page (admin, the conversation desk,
    insights): the reader, their client address, one entry per patient shown
    (``clinic.services.access_audit_record_many``: set-wise, with repeats
    within a few minutes folded into one). Returns how many were written."""
    return access_audit_record_many(
        patient_ids=patient_ids,
        actor=request.user,
        action=action,
        detail=detail,
        client_address=client_ip(request),
    )


class AccessAuditedAdmin(admin.ModelAdmin):
    """Writes the access audit when a list or a change page shows patients'
    records: one entry per patient of the page (one INSERT for a list page),
    ``detail`` naming the surface ("admin: clinic.appointment list", or the
    object's public id on its own page), never its content.

    ``audit_patient_path`` is the lookup from the model to the Patient whose
    record a row shows: found by itself for Patient (and its proxies) and for
    a ``patient`` foreign key; "message__patient" for deliveries; None for a
    model that shows no patient.
    """

    audit_patient_path: Any = FIND
    audit_action: str = AccessAudit.Action.VIEW_RECORD

    def _audit_path(self) -> str | None:
        if self.audit_patient_path is not FIND:
            return self.audit_patient_path
        if issubclass(self.model, Patient):
            return ""
        try:
            field = self.model._meta.get_field("patient")
        except FieldDoesNotExist:
            return None
        if field.is_relation and issubclass(field.related_model, Patient):
            return "patient"
        return None

    def _audit_patient_ids(self, objects: list[models.Model]) -> list[int]:
        path = self._audit_path()
        if path == "":
            return [obj.pk for obj in objects]
        if "__" not in path:
            return [getattr(obj, f"{path}_id") for obj in objects]
        # Across a relation: one query for the page rather than one per row.
        return list(
            self.model._default_manager.filter(
                pk__in=[obj.pk for obj in objects]
            ).values_list(path, flat=True)
        )

    def _audit(self, request: HttpRequest, objects: list, detail: str) -> None:
        if self._audit_path() is None or not objects:
            return
        staff_access_audit(
            request,
            self._audit_patient_ids(objects),
            action=self.audit_action,
            detail=detail,
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = _context(response).get("cl")
        if changelist is not None and response.status_code == 200:
            # The page's rows, read once: the template iterates the same list.
            rows = list(changelist.result_list)
            self._audit(request, rows, f"admin: {self.opts.label_lower} list")
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url="", extra_context=None
    ):
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = _context(response).get("original")
        if shown is not None and response.status_code == 200:
            name = getattr(shown, "public_id", shown.pk)
            self._audit(request, [shown], f"admin: {self.opts.label_lower} {name}")
        return response


def _context(response: HttpResponse) -> dict:
    return getattr(response, "context_data", None) or {}


def _scope(queryset: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    if isinstance(queryset, OrganizationScopedQuerySet):
        return queryset.visible_to(request.user)
    return queryset


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that lists only the user's organization's rows."""

    def field_choices(self, field, request: HttpRequest, model_admin):
        queryset = _scope(field.related_model._default_manager.all(), request)
        return [(obj.pk, str(obj)) for obj in queryset]


class OrganizationScopedAdmin(AccessAuditedAdmin):
    """Scopes lists, search, change, delete, history and autocomplete by organization.

    Superusers see every organization. Another organization's object answers
    404, exactly like one that does not exist, so its existence is not revealed.
    Pages that show patients write the access audit (``AccessAuditedAdmin``).
    """

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return _scope(super().get_queryset(request), request)

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and (
            request.user.is_superuser or staff_organization_id(request.user) is not None
        )

    def get_list_filter(self, request: HttpRequest):
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and not request.user.is_superuser:
                if entry == "organization":
                    continue
                # A path ("topic__purpose") names its last field.
                field = get_fields_from_path(self.model, entry)[-1]
                if field.is_relation:
                    entry = (entry, ScopedRelatedFieldListFilter)
            filters.append(entry)
        return filters

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        organization_id = staff_organization_id(request.user)
        if organization_id is not None:
            initial.setdefault("organization", organization_id)
        return initial

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if "queryset" not in kwargs:
            related = db_field.remote_field.model
            kwargs["queryset"] = _scope(related._default_manager.all(), request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if "queryset" not in kwargs:
            related = db_field.remote_field.model
            kwargs["queryset"] = _scope(related._default_manager.all(), request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
