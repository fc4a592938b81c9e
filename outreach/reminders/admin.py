"""Reminder rules and planned reminders in admin, scoped to the staff member's
organization."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from clinic.admin_scoping import OrganizationScopedAdmin
from outreach.reminders.models import Reminder, ReminderRule
from outreach.reminders.services import reminder_rule_save


@admin.register(ReminderRule)
class ReminderRuleAdmin(OrganizationScopedAdmin):
    """Saving a rule re-plans the pending reminders of every appointment that
    has not started; sent reminders stay as they are."""

    list_display = [
        "name",
        "kind",
        "offsets",
        "topic",
        "channel",
        "only_if_unconfirmed",
        "is_active",
    ]
    list_filter = ["organization", "is_active", "channel"]
    search_fields = ["name", "kind"]
    list_select_related = ["topic"]
    fields = [
        "organization",
        "name",
        "kind",
        "offsets",
        "topic",
        "channel",
        "only_if_unconfirmed",
        "is_active",
    ]

    def save_model(
        self, request: HttpRequest, obj: ReminderRule, form, change: bool
    ) -> None:
        reminder_rule_save(rule=obj)


@admin.register(Reminder)
class ReminderAdmin(OrganizationScopedAdmin):
    """Planned reminders and what became of them: read-only, for "why did
    this patient (not) get a reminder?"."""

    audit_patient_path = "appointment__patient"

    list_display = [
        "due_at",
        "patient",
        "appointment_starts_at",
        "rule",
        "offset",
        "status",
        "reason",
        "sent_at",
    ]
    list_filter = ["status", "reason", "rule"]
    search_fields = ["appointment__patient__identifier", "appointment__external_id"]
    date_hierarchy = "due_at"
    list_select_related = ["appointment__patient", "rule"]
    readonly_fields = [
        "appointment",
        "rule",
        "offset",
        "due_at",
        "status",
        "reason",
        "message",
        "sent_at",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    @admin.display(description=_("patient"))
    def patient(self, obj: Reminder) -> str:
        return obj.appointment.patient.identifier

    @admin.display(description=_("appointment"), ordering="appointment__starts_at")
    def appointment_starts_at(self, obj: Reminder):
        return obj.appointment.starts_at

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
