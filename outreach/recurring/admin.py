"""Admin for recurring care reminders, scoped to the staff member's organization."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from clinic.admin_scoping import OrganizationScopedAdmin
from outreach.recurring import services as recurring
from outreach.recurring.models import CareSchedule


class CareScheduleForm(forms.ModelForm):
    class Meta:
        model = CareSchedule
        fields = [
            "organization",
            "patient",
            "topic",
            "label",
            "rule",
            "start_date",
            "start_time",
            "until",
            "paused",
            "paused_until",
        ]

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            # The service's own checks (a rule that never fires, a topic that
            # is not for care…), shown on the form rather than as an error page.
            recurring.care_schedule_validate(schedule=self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(CareSchedule)
class CareScheduleAdmin(OrganizationScopedAdmin):
    form = CareScheduleForm
    list_display = [
        "patient",
        "topic",
        "label",
        "rule",
        "next_due_at",
        "until",
        "paused",
        "last_sent_at",
    ]
    list_filter = ["organization", "topic", "paused"]
    search_fields = ["patient__identifier", "patient__family_name"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient", "topic"]
    readonly_fields = ["next_due_at", "last_occurrence_at", "last_sent_at"]
    actions = ["pause", "resume"]

    def save_model(
        self, request: HttpRequest, obj: CareSchedule, form, change: bool
    ) -> None:
        # Computes the next occurrence from now: a resumed schedule sends
        # nothing it missed.
        recurring.care_schedule_save(schedule=obj)

    @admin.action(description=_("Pause the selected schedules"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset) -> None:
        for schedule in queryset:
            recurring.care_schedule_pause(schedule=schedule)
        self.message_user(
            request,
            ngettext(
                "%(count)d schedule paused.",
                "%(count)d schedules paused.",
                len(queryset),
            )
            % {"count": len(queryset)},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Resume the selected schedules"), permissions=["change"]
    )
    def resume(self, request: HttpRequest, queryset) -> None:
        for schedule in queryset.select_related("patient"):
            recurring.care_schedule_resume(schedule=schedule)
        self.message_user(request, gettext("Resumed; missed occurrences are not sent."))
