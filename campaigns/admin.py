"""Campaigns in admin: written, approved, sent and followed, per organization."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns import services
from campaigns.audience import audience_count, audience_excluded_ids, reason_label
from campaigns.models import Campaign, CampaignRecipient, PatientTag
from campaigns.selectors import campaign_progress
from clinic.admin_scoping import OrganizationScopedAdmin, staff_access_audit
from clinic.models import AccessAudit, Patient
from clinic.roles import purposes_allowed, purposes_text
from clinic.scoping import staff_organization_id
from consent.vocabulary import Channel
from messaging.models import DeliveryStatus

AUDIENCE_FIELDS = [
    "site",
    "age_min",
    "age_max",
    "language",
    "tags",
    "last_visit_before",
    "last_visit_after",
    "upcoming_appointment_kind",
    "require_opt_in",
]
SCHEDULE_FIELDS = [
    "schedule",
    "send_at",
    "local_date",
    "local_time",
    "throttle_per_minute",
]
WORKFLOW_FIELDS = [
    "status",
    "author",
    "approver",
    "submitted_at",
    "approved_at",
    "scheduled_at",
    "started_at",
    "paused_at",
    "finished_at",
    "cancelled_at",
]
EXCLUDED_PAGE_SIZE = 100
# action → (service, success message)
ACTIONS = {
    "submit": (services.campaign_submit, _("Submitted for approval.")),
    "reopen": (services.campaign_reopen, _("Back to draft.")),
    "approve": (services.campaign_approve, _("Approved.")),
    "schedule": (services.campaign_schedule, _("Scheduled.")),
    "pause": (services.campaign_pause, _("Paused.")),
    "resume": (services.campaign_resume, _("Resumed.")),
    "cancel": (services.campaign_cancel, _("Cancelled.")),
    "test_send": (services.campaign_test_send, _("Test sent to your email.")),
}
# Which buttons a campaign shows in each status.
BUTTONS = {
    Campaign.Status.DRAFT: ["test_send", "submit", "cancel"],
    Campaign.Status.AWAITING_APPROVAL: ["test_send", "approve", "reopen", "cancel"],
    Campaign.Status.APPROVED: ["test_send", "schedule", "reopen", "cancel"],
    Campaign.Status.SCHEDULED: ["pause", "cancel"],
    Campaign.Status.SENDING: ["pause", "cancel"],
    Campaign.Status.PAUSED: ["resume", "cancel"],
    # Nothing left to send: nothing to pause or cancel.
    Campaign.Status.DONE: [],
    Campaign.Status.CANCELLED: [],
}
BUTTON_LABELS = {
    "submit": _("Submit for approval"),
    "reopen": _("Back to draft"),
    "approve": _("Approve"),
    "schedule": _("Schedule"),
    "pause": _("Pause"),
    "resume": _("Resume"),
    "cancel": _("Cancel the campaign"),
    "test_send": _("Send me a test"),
}


@admin.register(Campaign)
class CampaignAdmin(OrganizationScopedAdmin):
    list_display = [
        "name",
        "topic",
        "status",
        "schedule",
        "author",
        "approver",
        "created_at",
    ]
    list_filter = ["status", "topic"]
    search_fields = ["name"]
    list_select_related = ["topic", "author", "approver"]
    readonly_fields = WORKFLOW_FIELDS
    change_form_template = "admin/campaigns/campaign/change_form.html"
    actions = [
        "submit_selected",
        "approve_selected",
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "test_send_selected",
    ]

    def get_fieldsets(self, request: HttpRequest, obj=None):
        main = ["name", "topic"]
        if request.user.is_superuser:
            main.insert(0, "organization")
        return [
            (None, {"fields": main}),
            (_("Audience"), {"fields": AUDIENCE_FIELDS}),
            (_("When and how fast"), {"fields": SCHEDULE_FIELDS}),
            (_("Workflow"), {"fields": WORKFLOW_FIELDS}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is not None and not obj.editable:
            return [
                "organization",
                "name",
                "topic",
                *AUDIENCE_FIELDS,
                *SCHEDULE_FIELDS,
                *WORKFLOW_FIELDS,
            ]
        return WORKFLOW_FIELDS

    def save_model(
        self, request: HttpRequest, obj: Campaign, form, change: bool
    ) -> None:
        if not change:
            obj.author = request.user
            if not request.user.is_superuser:
                obj.organization_id = staff_organization_id(request.user)
        services.campaign_save(campaign=obj, user=request.user)

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "send_at" and field is not None:
            # Admin's split widget writes "Date:" and "Time:" as bare text:
            # each box gets a name of its own for screen readers (axe label).
            date, time = field.widget.widgets
            date.attrs["aria-label"] = _("Send at: date")
            time.attrs["aria-label"] = _("Send at: time")
        return field

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "topic":
            # Only the topics of purposes the user's role may send
            # (clinic.roles.ROLE_PURPOSES); a forced other one is refused.
            allowed = purposes_allowed(request.user)
            field.queryset = field.queryset.filter(purpose__in=allowed)
            field.help_text = format_html(
                "{}<br>{}",
                db_field.help_text,
                _("Your role may send topics of these purposes: %(purposes)s.")
                % {"purposes": purposes_text(allowed)},
            )
            field.error_messages["invalid_choice"] = _(
                "Your role may not send this topic: it may send topics of these "
                "purposes only: %(purposes)s."
            ) % {"purposes": purposes_text(allowed)}
        return field

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        user, author = request.user, obj.author if obj else request.user

        class CampaignForm(form):
            def clean(self):
                data = super().clean()
                topic = data.get("topic")
                if topic is not None:
                    try:
                        services.campaign_purpose_check(
                            topic=topic, author=author, user=user
                        )
                    except services.CampaignError as refused:
                        self.add_error("topic", str(refused))
                return data

        return CampaignForm

    def get_urls(self):
        return [
            path(
                "<path:object_id>/do/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="campaigns_campaign_do",
            ),
            path(
                "<path:object_id>/excluded/<slug:reason>/",
                self.admin_site.admin_view(self.excluded_view),
                name="campaigns_campaign_excluded",
            ),
            path(
                "audience-count/",
                self.admin_site.admin_view(self.audience_count_view),
                name="campaigns_campaign_audience_count",
            ),
            *super().get_urls(),
        ]

    def excluded_view(self, request: HttpRequest, object_id: str, reason: str):
        """The patients the live count leaves out for ``reason``: the rows an
        "excluded because…" line counts before the audience is frozen (there
        are no recipients yet to list)."""
        campaign = self.get_object(request, object_id)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        ids = audience_excluded_ids(campaign, reason=reason)
        page = Paginator(ids, EXCLUDED_PAGE_SIZE).get_page(request.GET.get("p"))
        patients = list(
            Patient.objects.for_organization(campaign.organization_id)
            .filter(pk__in=list(page.object_list))
            .order_by("pk")
        )
        staff_access_audit(
            request,
            [p.pk for p in patients],
            action=AccessAudit.Action.VIEW_RECORD,
            detail=f"admin: campaigns.campaign {campaign.pk} excluded",
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": gettext("Not sent, and why: %(reason)s")
            % {"reason": reason_label(reason)},
            "reason_label": reason_label(reason),
            "patients": patients,
            "page": page,
            "total": len(ids),
        }
        return TemplateResponse(
            request, "admin/campaigns/campaign/excluded.html", context
        )

    def audience_count_view(self, request: HttpRequest) -> JsonResponse:
        """The live count of the audience being edited (the form's topic and
        audience fields, posted by ``campaigns/audience_count.js``), checked
        as the form checks them: the user's organization and role."""
        if request.method != "POST":
            return JsonResponse({"errors": {"": ["POST only."]}}, status=405)
        if not (
            self.has_add_permission(request) or self.has_change_permission(request)
        ):
            raise PermissionDenied
        form_class = self.get_form(request, None, fields=["topic", *AUDIENCE_FIELDS])
        campaign = Campaign(author=request.user)
        if request.user.is_superuser:
            organization_id = request.POST.get("organization", "")
            if organization_id.isdigit():
                campaign.organization_id = int(organization_id)
        else:
            campaign.organization_id = staff_organization_id(request.user)
        form = form_class(request.POST, instance=campaign)
        if not campaign.organization_id:
            form.is_valid()
            form.add_error(None, gettext("Choose the organization first."))
        elif (
            form.is_valid()
            and form.instance.topic.organization_id != campaign.organization_id
        ):
            form.add_error(
                "topic", gettext("The topic belongs to another organization.")
            )
        if form.errors:
            return JsonResponse({"errors": form.errors}, status=400)
        count = audience_count(form.instance)
        return JsonResponse(
            {
                "total": count.total,
                "receiving": count.receiving,
                "excluded_total": count.excluded_total,
                "summary": gettext(
                    # The change form's sentence, the same words.
                    "%(receiving)s of %(total)s patients will receive it; "
                    "%(excluded)s will not."
                )
                % {
                    "receiving": count.receiving,
                    "total": count.total,
                    "excluded": count.excluded_total,
                },
                "excluded": [
                    {"reason": reason, "label": label, "count": n}
                    for reason, label, n in count.excluded_labelled()
                ],
                "problems": count.problems,
            }
        )

    def action_view(self, request: HttpRequest, object_id: str, action: str):
        if request.method != "POST" or action not in ACTIONS:
            raise PermissionDenied
        campaign = self.get_object(request, object_id)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        self._run(request, campaign, action)
        return HttpResponseRedirect(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        )

    def _run(self, request: HttpRequest, campaign: Campaign, action: str) -> bool:
        service, done = ACTIONS[action]
        try:
            service(campaign=campaign, user=request.user)
        except services.CampaignError as exc:
            self.message_user(request, f"{campaign}: {exc}", messages.ERROR)
            return False
        self.message_user(request, f"{campaign}: {done}", messages.SUCCESS)
        return True

    def _bulk(self, request: HttpRequest, queryset, action: str) -> None:
        for campaign in queryset:
            self._run(request, campaign, action)

    @admin.action(description=_("Submit for approval"))
    def submit_selected(self, request, queryset):
        self._bulk(request, queryset, "submit")

    @admin.action(description=_("Approve"))
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, "approve")

    @admin.action(description=_("Pause"))
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, "pause")

    @admin.action(description=_("Resume"))
    def resume_selected(self, request, queryset):
        self._bulk(request, queryset, "resume")

    @admin.action(description=_("Cancel"))
    def cancel_selected(self, request, queryset):
        self._bulk(request, queryset, "cancel")

    @admin.action(description=_("Send me a test"))
    def test_send_selected(self, request, queryset):
        self._bulk(request, queryset, "test_send")

    class Media:
        js = ["campaigns/audience_count.js"]

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context.update(self._panel(obj))
        if obj is None or obj.editable:
            # The audience fields can be edited: count them as they change.
            context["audience_count_url"] = reverse(
                "admin:campaigns_campaign_audience_count"
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _panel(self, campaign: Campaign) -> dict:
        panel: dict = {
            "buttons": [
                (action, BUTTON_LABELS[action]) for action in BUTTONS[campaign.status]
            ],
            "recipients_url": reverse("admin:campaigns_campaignrecipient_changelist")
            + f"?campaign__id__exact={campaign.pk}",
        }
        if campaign.status in (
            Campaign.Status.DRAFT,
            Campaign.Status.AWAITING_APPROVAL,
            Campaign.Status.APPROVED,
        ):
            count = audience_count(campaign)
            panel["count"] = count
            # No recipient rows before scheduling: each reason opens the
            # patients the count leaves out (``excluded_view``).
            panel["excluded"] = [
                (
                    reverse(
                        "admin:campaigns_campaign_excluded",
                        args=[campaign.pk, reason],
                    ),
                    label,
                    n,
                )
                for reason, label, n in count.excluded_labelled()
            ]
            panel["by_channel"] = sorted(count.by_channel.items())
        else:
            progress = campaign_progress(campaign=campaign)
            panel["progress"] = progress
            recipients_url = panel["recipients_url"]
            panel["excluded"] = [
                (f"{recipients_url}&{urlencode({'reason': reason})}", label, n)
                for reason, label, n in (
                    (reason, reason_label(reason), n)
                    for reason, n in sorted(progress.excluded.items())
                )
            ]
            panel["stopped"] = [
                (reason, reason_label(reason), n)
                for reason, n in sorted(progress.stopped.items())
            ]
            panel["deliveries"] = sorted(
                (
                    str(CHANNEL_LABELS.get(channel, channel)),
                    str(STATUS_LABELS.get(status, status)),
                    n,
                )
                for (channel, status), n in progress.deliveries.items()
            )
            panel["deferred"] = deferred_sentences(progress.deferred)
        return panel


CHANNEL_LABELS = dict(Channel.choices)
STATUS_LABELS = dict(DeliveryStatus.choices)


def deferred_sentences(deferred: dict) -> list[str]:
    """The deferred deliveries in words, one sentence per channel and reason
    (the reason's own label), with when the next one goes, in the request's
    time zone, named: "SMS: 9 deliveries waiting (Quiet hours). The next one
    goes at 11/03/2026 08:00 (Europe/Paris)." """
    zone = timezone.get_current_timezone_name()
    sentences = []
    for (channel, reason), (n, next_at) in sorted(deferred.items()):
        waiting = ngettext(
            "%(channel)s: %(count)s delivery waiting (%(reason)s).",
            "%(channel)s: %(count)s deliveries waiting (%(reason)s).",
            n,
        ) % {
            "count": n,
            "channel": CHANNEL_LABELS.get(channel, channel),
            "reason": reason_label(reason) if reason else gettext("no reason given"),
        }
        at = formats.date_format(timezone.localtime(next_at), "SHORT_DATETIME_FORMAT")
        goes = gettext("The next one goes at %(at)s (%(zone)s).") % {
            "at": at,
            "zone": zone,
        }
        sentences.append(f"{waiting} {goes}")
    return sentences


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(OrganizationScopedAdmin):
    """The per-patient drill-down: who got the campaign, who did not and why."""

    list_display = [
        "patient",
        "campaign",
        "status",
        "why_not",
        "due_at",
        "planned_at",
        "message_link",
    ]
    list_filter = ["status", "reason", "campaign"]
    search_fields = ["patient__identifier", "patient__family_name"]
    list_select_related = ["patient", "campaign"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=_("reason"))
    def why_not(self, obj: CampaignRecipient) -> str:
        return reason_label(obj.reason) if obj.reason else ""

    @admin.display(description=_("message"))
    def message_link(self, obj: CampaignRecipient) -> str:
        if not obj.message_id:
            return ""
        url = reverse("admin:messaging_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, gettext("deliveries"))


@admin.register(PatientTag)
class PatientTagAdmin(OrganizationScopedAdmin):
    list_display = ["name", "patient", "created_at"]
    list_filter = ["name"]
    search_fields = ["name", "patient__identifier", "patient__family_name"]
    raw_id_fields = ["patient"]
