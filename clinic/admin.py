from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from clinic import services
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import (
    Appointment,
    Caregiver,
    Organization,
    Patient,
    Site,
    StaffMember,
)


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    list_display = ["name", "slug", "country", "time_zone", "default_language"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if request.user.is_superuser else ["slug"]


@admin.register(Site)
class SiteAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "phone"]
    list_filter = ["organization"]
    search_fields = ["name", "address"]


@admin.register(StaffMember)
class StaffMemberAdmin(OrganizationScopedAdmin):
    list_display = ["__str__", "role", "organization"]
    list_filter = ["organization", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["sites"]
    list_select_related = ["user", "organization"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Accounts are created by superusers; clinic admins assign roles and sites.
        return [] if request.user.is_superuser else ["user", "organization"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser


class AppointmentInline(admin.TabularInline):
    model = Appointment
    fields = ["starts_at", "ends_at", "site", "kind", "status", "external_id"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(OrganizationScopedAdmin):
    list_display = [
        "identifier",
        "family_name",
        "given_name",
        "birth_date",
        "preferred_language",
        "organization",
    ]
    list_filter = ["organization", "preferred_language"]
    search_fields = ["identifier", "family_name", "given_name", "email", "phone"]
    list_select_related = ["organization"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [AppointmentInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "organization",
                    "identifier",
                    "given_name",
                    "family_name",
                    "birth_date",
                ]
            },
        ),
        (
            _("Communication"),
            {"fields": ["preferred_language", "time_zone", "email", "phone"]},
        ),
        (_("Portal"), {"fields": ["user", "public_id", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("user")  # bound by enrolment, never picked from a list
        return fields

    def save_model(
        self, request: HttpRequest, obj: Patient, form, change: bool
    ) -> None:
        services.patient_save(patient=obj)


@admin.register(Caregiver)
class CaregiverAdmin(OrganizationScopedAdmin):
    list_display = ["user", "patient", "relationship", "created_at"]
    list_filter = ["relationship"]
    search_fields = ["user__username", "patient__family_name", "patient__identifier"]
    autocomplete_fields = ["patient"]
    list_select_related = ["user", "patient"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [] if request.user.is_superuser else ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Caregivers join by invitation; only superusers bind accounts by hand.
        return request.user.is_superuser


@admin.register(Appointment)
class AppointmentAdmin(OrganizationScopedAdmin):
    list_display = ["starts_at", "patient", "site", "practitioner", "kind", "status"]
    list_filter = ["organization", "status", "site"]
    search_fields = ["patient__family_name", "patient__identifier", "external_id"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "starts_at"
    list_select_related = ["patient", "site", "practitioner__user"]
    readonly_fields = ["public_id", "created_at", "updated_at"]

    def save_model(
        self, request: HttpRequest, obj: Appointment, form, change: bool
    ) -> None:
        services.appointment_save(appointment=obj)
