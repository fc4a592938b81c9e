"""Admin that shows a staff user only their own organization's rows."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.http import Http404, HttpRequest

from clinic.scoping import OrganizationScopedQuerySet, staff_organization_id


def _scope(queryset: models.QuerySet, request: HttpRequest) -> models.QuerySet:
    if isinstance(queryset, OrganizationScopedQuerySet):
        return queryset.visible_to(request.user)
    return queryset


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-field filter that lists only the user's organization's rows."""

    def field_choices(self, field, request: HttpRequest, model_admin):
        queryset = _scope(field.related_model._default_manager.all(), request)
        return [(obj.pk, str(obj)) for obj in queryset]


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Scopes lists, search, change, delete, history and autocomplete by organization.

    Superusers see every organization. Another organization's object answers
    404, exactly like one that does not exist, so its existence is not revealed.
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
