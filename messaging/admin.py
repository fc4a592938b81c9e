import json

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import AccessAudit
from clinic.roles import template_purposes
from messaging.models import (
    Delivery,
    Message,
    OutboxEntry,
    SenderIdentity,
    Template,
    UnmatchedInbound,
)
from messaging.rendering import (
    TemplateContentError,
    check_syntax,
    render,
    sms_segments,
    sms_text,
    variables_used,
)
from messaging.selectors import channels_status
from messaging.senders.admin import SenderIdentityAdmin, warn_missing_senders
from messaging.variables import VARIABLES, sample_context


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def template_preview_data(
    *, subject: str, body: str, body_html: str, channel: str
) -> dict:
    """What the preview panel shows: the texts rendered with sample values, the
    SMS length and segments, and any problem found."""
    context = sample_context()
    errors = []
    for text in (subject, body, body_html):
        try:
            check_syntax(text)
        except TemplateContentError as exc:
            errors.append(str(exc))
    rendered_body = render(body, context)
    data = {
        "subject": render(subject, context),
        "body": rendered_body,
        "body_html": render(body_html, context, html=True),
        "errors": errors,
        "clinical": sorted(
            name
            for text in (subject, body, body_html)
            for name in variables_used(text)
            if name in VARIABLES and VARIABLES[name].clinical
        ),
    }
    if channel == "sms":
        # Counted as sent: typography is made GSM-7 on the way out.
        data["sms"] = sms_segments(sms_text(rendered_body))
        if data["sms"]["segments"] > 3:
            data["warnings"] = [
                str(_("Longer than 3 SMS segments: consider shortening it."))
            ]
    return data


@admin.register(Template)
class TemplateAdmin(OrganizationScopedAdmin):
    list_display = ["topic", "channel", "language", "sensitivity", "updated_at"]
    list_filter = ["channel", "language", "sensitivity", "topic__purpose"]
    search_fields = ["topic__slug", "topic__name_en", "body"]
    list_select_related = ["topic"]
    change_form_template = "admin/messaging/template/change_form.html"

    class Media:
        js = ["messaging/template_preview.js"]
        css = {"all": ["messaging/template_preview.css"]}

    # Templates speak for their topic: staff write only those of the purposes
    # their role answers for (clinic.roles.template_purposes); the others
    # they may read.
    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "topic" and field is not None:
            field.queryset = field.queryset.filter(
                purpose__in=template_purposes(request.user)
            )
        return field

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_word(request, obj) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._may_word(request, obj) and super().has_delete_permission(
            request, obj
        )

    @staticmethod
    def _may_word(request: HttpRequest, obj) -> bool:
        return obj is None or obj.topic.purpose in template_purposes(request.user)

    # Email HTML carries inline styles (mail clients need them); the preview
    # iframe inherits this page's policy, so this page alone allows inline
    # styles. Scripts stay 'self' only.
    @method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}))
    def changeform_view(self, *args, **kwargs):
        return super().changeform_view(*args, **kwargs)

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(require_POST(self.preview_view)),
                name="messaging_template_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            posted = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"errors": ["Invalid JSON."]}, status=400)
        fields = {
            k: str(posted.get(k, ""))[:10_000]
            for k in ("subject", "body", "body_html", "channel")
        }
        return JsonResponse(template_preview_data(**fields))

    def render_change_form(self, request, context, *args, **kwargs):
        context["variables"] = VARIABLES.values()
        return super().render_change_form(request, context, *args, **kwargs)


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = Delivery
    fields = [
        "channel",
        "status",
        "why_not_sent",
        "address",
        "provider",
        "attempts",
        "sent_at",
        "delivered_at",
        "read_at",
    ]
    readonly_fields = fields
    extra = 0

    @admin.display(description=_("reason"))
    def why_not_sent(self, obj: Delivery) -> str:
        return obj.reason_label


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, OrganizationScopedAdmin):
    list_display = [
        "created_at",
        "patient",
        "topic",
        "origin",
        "direction",
        "sensitivity",
        "read_at",
    ]
    list_filter = ["origin", "direction", "sensitivity", "topic__purpose"]
    search_fields = [
        "patient__identifier",
        "patient__family_name",
        "idempotency_key",
        "authenticity_code",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["patient", "topic"]
    inlines = [DeliveryInline]
    exclude = ["context"]

    audit_action = AccessAudit.Action.VIEW_MESSAGE


class ValuesFilter(admin.AllValuesFieldListFilter):
    """The values a field holds; the empty one is named, not a link without
    text that a screen reader cannot announce."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice["display"] = _("Empty")
            yield choice


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyMixin, OrganizationScopedAdmin):
    """The delivery log: every message on every channel, and why one was not sent."""

    list_display = [
        "created_at",
        "message_link",
        "channel",
        "status",
        "why_not_sent",
        "provider",
        "attempts",
    ]
    list_filter = [
        "channel",
        "status",
        ("reason", ValuesFilter),
        ("provider", ValuesFilter),
    ]
    search_fields = [
        "message__patient__identifier",
        "provider_id",
        "message__public_id",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["message"]
    exclude = ["body", "body_html", "subject"]
    audit_patient_path = "message__patient"

    @admin.display(description=_("reason"))
    def why_not_sent(self, obj: Delivery) -> str:
        return obj.reason_label

    def changelist_view(self, request: HttpRequest, extra_context=None):
        for channel, status in channels_status().items():
            if not status["available"]:
                messages.warning(
                    request,
                    _("The %(channel)s channel cannot send: %(why)s")
                    % {
                        "channel": channel,
                        "why": status.get("why") or status.get("error", ""),
                    },
                )
        warn_missing_senders(request)
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("message"))
    def message_link(self, obj: Delivery) -> str:
        return format_html(
            '<a href="../message/{}/change/">{}</a>', obj.message_id, obj.message_id
        )


admin.site.register(SenderIdentity, SenderIdentityAdmin)


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyMixin, OrganizationScopedAdmin):
    """What the development backends would have sent (``make run``)."""

    list_display = ["created_at", "channel", "to", "subject", "short_body"]
    list_filter = ["channel"]
    search_fields = ["to", "subject"]

    @admin.display(description=_("text"))
    def short_body(self, obj: OutboxEntry) -> str:
        return obj.body[:120]


@admin.register(UnmatchedInbound)
class UnmatchedInboundAdmin(OrganizationScopedAdmin):
    """SMS from numbers that match no patient, for staff to handle. Those sent
    to a number of no single organization (no organization: the platform
    queue) are seen by superusers only: the scoping shows staff their own
    organization's rows, never those without one."""

    list_display = [
        "received_at",
        "from_number",
        "to_number",
        "short_text",
        "handled_at",
    ]
    list_filter = [
        "provider",
        ("handled_at", admin.EmptyFieldListFilter),
        "organization",
    ]
    search_fields = ["from_number", "text"]
    list_select_related = ["organization"]
    readonly_fields = [
        "organization",
        "provider",
        "provider_message_id",
        "to_number",
        "from_number",
        "text",
        "received_at",
        "handled_by",
    ]
    actions = ["mark_handled"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_list_display(self, request: HttpRequest):
        if request.user.is_superuser:
            return ["received_at", "queue", *self.list_display[1:]]
        return self.list_display

    @admin.display(description=_("queue"), ordering="organization__name")
    def queue(self, obj: UnmatchedInbound) -> str:
        return obj.organization.name if obj.organization else str(_("Platform"))

    @admin.display(description=_("text"))
    def short_text(self, obj: UnmatchedInbound) -> str:
        return obj.text[:80]

    @admin.action(description=_("Mark as handled"), permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset) -> None:
        from django.utils import timezone

        queryset.filter(handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=request.user
        )
