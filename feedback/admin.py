"""Surveys in admin: built from questions, with the responses they received.
Responses are read-only (what a patient said is never edited by staff)."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from clinic.admin_scoping import OrganizationScopedAdmin
from feedback.models import Answer, Question, Survey, SurveyInvitation, SurveyResponse


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    fields = ["position", "kind", "text_fr", "text_en", "choices", "required"]


@admin.register(Survey)
class SurveyAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "trigger", "anonymous", "is_active"]
    list_filter = ["organization", "trigger", "anonymous", "is_active"]
    search_fields = ["name", "title_fr", "title_en"]
    inlines = [QuestionInline]
    fieldsets = [
        (None, {"fields": ["organization", "name", "topic", "is_active", "anonymous"]}),
        (_("Wording"), {"fields": ["title_fr", "title_en", "intro_fr", "intro_en"]}),
        (
            _("Sending"),
            {"fields": ["trigger", "trigger_delay_hours", "link_valid_days"]},
        ),
    ]


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    fields = ["question", "score", "choices", "text"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(OrganizationScopedAdmin):
    list_display = ["survey", "submitted_at", "complete", "patient"]
    list_filter = ["organization", "survey", "complete"]
    date_hierarchy = "submitted_at"
    fields = ["survey", "patient", "submitted_at", "complete", "flagged_by"]
    readonly_fields = ["survey", "patient", "submitted_at", "complete", "flagged_by"]
    inlines = [AnswerInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(OrganizationScopedAdmin):
    list_display = ["survey", "patient", "created_at", "expires_at", "answered_at"]
    list_filter = ["organization", "survey"]
    readonly_fields = [
        "survey",
        "patient",
        "trigger_ref",
        "message",
        "created_at",
        "expires_at",
        "answered_at",
    ]
    fields = readonly_fields
    raw_id_fields = ["patient"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
