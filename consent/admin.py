from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

import consent.gdpr.admin
import consent.requests.admin  # noqa: F401 - registers erasure requests admin
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.roles import purposes_allowed
from consent.models import ConsentEvent, OrganizationPolicy, PatientPreferences, Topic


@admin.register(Topic)
class TopicAdmin(OrganizationScopedAdmin):
    list_display = [
        "name_en",
        "name_fr",
        "slug",
        "purpose",
        "essential",
        "urgent",
        "organization",
    ]
    list_filter = ["organization", "purpose"]
    search_fields = ["slug", "name_en", "name_fr"]

    # A topic's purpose decides its consent rules: staff give a topic only a
    # purpose their role may send (clinic.roles.ROLE_PURPOSES), and leave the
    # purpose of other topics as it is, or a marketing topic turned into care
    # would reach patients who never opted in.
    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.purpose not in purposes_allowed(request.user):
            fields.append("purpose")
        return fields

    def formfield_for_choice_field(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "purpose":
            allowed = purposes_allowed(request.user)
            kwargs["choices"] = [
                choice for choice in db_field.get_choices() if choice[0] in allowed
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(OrganizationPolicy)
class OrganizationPolicyAdmin(OrganizationScopedAdmin):
    list_display = ["organization", "send_from", "send_until", "fatigue_budget"]
    fieldsets = [
        (None, {"fields": ["organization"]}),
        (
            _("Sending hours (in each patient's time zone)"),
            {
                "fields": [
                    "send_from",
                    "send_until",
                    "urgent_send_from",
                    "urgent_send_until",
                ]
            },
        ),
        (
            _("Campaigns"),
            {
                "fields": [
                    "marketing_on_sundays",
                    "marketing_on_holidays",
                    "voice_marketing_windows",
                    "marketing_per_week",
                ]
            },
        ),
        (
            _("Limits"),
            {
                "fields": [
                    "care_cap",
                    "care_cap_days",
                    "survey_every_days",
                    "fatigue_budget",
                    "fatigue_budget_days",
                    "duplicate_window_hours",
                ]
            },
        ),
    ]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(OrganizationScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    """The ledger: every row is proof, so nobody edits or deletes one here."""

    list_display = [
        "occurred_at",
        "patient",
        "action",
        "purpose",
        "topic",
        "channel",
        "source",
        "actor_label",
    ]
    list_filter = ["action", "purpose", "channel", "source"]
    search_fields = ["patient__identifier", "patient__family_name"]
    date_hierarchy = "occurred_at"
    list_select_related = ["patient", "topic"]


@admin.register(PatientPreferences)
class PatientPreferencesAdmin(ReadOnlyAdmin):
    list_display = [
        "patient",
        "send_from",
        "send_until",
        "marketing_per_week",
        "objects_to_automation",
    ]
    search_fields = ["patient__identifier", "patient__family_name"]
    list_select_related = ["patient"]
