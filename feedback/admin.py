"""Surveys in admin: built from questions, with the responses they received.
Responses are read-only (what a patient said is never edited by staff)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from clinic.admin_scoping import OrganizationScopedAdmin
from feedback.followups import follow_up_open
from feedback.invite import identifiers_parse, survey_invite_identifiers
from feedback.models import (
    Answer,
    ImprovementNote,
    Question,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)


class InviteForm(forms.Form):
    identifiers = forms.CharField(
        label=_("patient identifiers"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One per line (or separated by commas), at most 500."),
    )

    def clean_identifiers(self) -> list[str]:
        return identifiers_parse(self.cleaned_data["identifiers"])


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
            {
                "fields": [
                    "trigger",
                    "campaign",
                    "trigger_delay_hours",
                    "link_valid_days",
                ]
            },
        ),
    ]
    change_form_template = "admin/feedback/survey/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/invite/",
                self.admin_site.admin_view(self.invite_view),
                name="feedback_survey_invite",
            ),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest, object_id: str):
        survey = self.get_object(request, object_id)
        if not request.user.has_perm("feedback.change_survey"):
            raise PermissionDenied
        form = InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = survey_invite_identifiers(
                    survey=survey, identifiers=form.cleaned_data["identifiers"]
                )
            except ValidationError as error:
                form.add_error("identifiers", error)
            else:
                self.message_user(
                    request,
                    _("%(count)d patient(s) invited.") % {"count": report.invited},
                    messages.SUCCESS,
                )
                for identifier, why in report.skipped.items():
                    self.message_user(request, f"{identifier}: {why}", messages.WARNING)
                return HttpResponseRedirect(
                    reverse("admin:feedback_survey_change", args=[survey.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": survey,
            "form": form,
            "title": _("Invite patients to “%(survey)s”") % {"survey": survey},
        }
        return TemplateResponse(request, "admin/feedback/survey/invite.html", context)


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
    list_display = ["survey", "submitted_at", "complete", "patient", "follow_up"]
    actions = ["open_follow_up"]
    list_filter = ["organization", "survey", "complete"]
    date_hierarchy = "submitted_at"
    fields = [
        "survey",
        "patient",
        "submitted_at",
        "complete",
        "flagged_by",
        "follow_up",
    ]
    readonly_fields = fields
    inlines = [AnswerInline]

    def has_follow_up_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.change_conversation")

    @admin.action(
        description=_("Open a follow-up conversation with these patients"),
        permissions=["follow_up"],
    )
    def open_follow_up(self, request: HttpRequest, queryset) -> None:
        opened = skipped = 0
        for response in queryset.select_related("patient", "survey", "invitation"):
            if follow_up_open(response, flagged_by=request.user) is None:
                skipped += 1
            else:
                opened += 1
        self.message_user(
            request, _("%(count)d follow-up conversation(s) open.") % {"count": opened}
        )
        if skipped:
            self.message_user(
                request,
                _("%(count)d anonymous response(s) skipped: nobody to follow up with.")
                % {"count": skipped},
                messages.WARNING,
            )

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


@admin.register(ImprovementNote)
class ImprovementNoteAdmin(OrganizationScopedAdmin):
    list_display = ["__str__", "organization", "site", "published_at"]
    list_filter = ["organization", "site"]
    fields = [
        "organization",
        "site",
        "you_said_fr",
        "you_said_en",
        "we_did_fr",
        "we_did_en",
        "published_at",
    ]
