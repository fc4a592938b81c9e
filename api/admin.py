"""API keys in admin: created with their scopes, the secret shown once, revoked
with one action; each organization's staff see only their own keys.

Webhook subscriptions likewise (secret shown once), with a link to their
delivery log, where deliveries are replayed."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from api.keys import (
    api_key_create,
    api_key_purposes_allowed,
    api_key_purposes_parse,
    api_key_revoke,
    api_key_update,
)
from api.models import ApiKey, WebhookDelivery, WebhookEvent, WebhookSubscription
from api.scopes import Scope
from api.webhooks.services import (
    ReplayRefused,
    webhook_delivery_replay,
    webhook_subscription_create,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)
from api.webhooks.url_safety import UnsafeUrlError, url_check
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import Organization
from clinic.roles import PurposeNotAllowed, purposes_text
from clinic.scoping import staff_organization_id
from consent.vocabulary import Purpose
from messaging.credentials import credentials_key_problem


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    purposes = forms.MultipleChoiceField(
        label=_("topic purposes"),
        choices=Purpose.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    user = None  # who creates or changes the key (``limit_purposes``)

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes", "purposes", "rate_per_minute"]

    def limit_purposes(self, user) -> None:
        """Offer only the purposes ``user``'s role may send
        (clinic.roles.ROLE_PURPOSES); another one is refused, in words."""
        allowed = api_key_purposes_allowed(user)
        field = self.fields["purposes"]
        field.choices = [(v, label) for v, label in Purpose.choices if v in allowed]
        field.help_text = _(
            "Messages on topics of other purposes are refused (403). Your role "
            "may give a key: %(purposes)s."
        ) % {"purposes": purposes_text(allowed)}
        field.error_messages["invalid_choice"] = _(
            "Your role may not give a key this purpose: it may give %(purposes)s."
        ) % {"purposes": purposes_text(allowed)}
        if not self.instance.pk:
            field.initial = sorted(allowed)
        self.user = user

    def clean_purposes(self) -> list[str]:
        try:
            return api_key_purposes_parse(
                self.cleaned_data["purposes"], created_by=self.user
            )
        except PurposeNotAllowed as refused:
            raise ValidationError(str(refused)) from None


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "organization",
        "scope_labels",
        "purposes_label",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["organization", "revoked_at"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj=None):
        fields = ["name", "scopes", "purposes", "rate_per_minute"]
        if request.user.is_superuser:
            fields.insert(0, "organization")
        if obj is not None:
            fields += self.readonly_fields
        return fields

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        user = request.user

        class LimitedForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.limit_purposes(user)

        return LimitedForm

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            api_key_update(
                key=obj,
                user=request.user,
                name=obj.name,
                scopes=form.cleaned_data["scopes"],
                purposes=form.cleaned_data["purposes"],
                rate_per_minute=obj.rate_per_minute,
            )
            return
        organization_id = obj.organization_id or staff_organization_id(request.user)
        key, raw = api_key_create(
            organization=Organization.objects.get(pk=organization_id),
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
            rate_per_minute=obj.rate_per_minute,
            purposes=form.cleaned_data["purposes"],
        )
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        messages.warning(
            request,
            _("The key is shown this once; store it in the partner system now: %(key)s")
            % {"key": raw},
        )

    @admin.display(description=_("scopes"))
    def scope_labels(self, obj: ApiKey) -> str:
        return obj.scope_labels()

    @admin.display(description=_("topic purposes"))
    def purposes_label(self, obj: ApiKey) -> str:
        return purposes_text(set(obj.purposes))

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(
            request, _("%(count)d key(s) revoked.") % {"count": len(queryset)}
        )


# --- Webhooks: subscriptions, their delivery log, replay ---------------------


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["organization", "url", "description", "events", "is_active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(OrganizationScopedAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "organization", "event_list", "is_active", "flagged_at"]
    list_filter = ["organization", "is_active"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "public_id",
        "secret_hint",
        "flagged_at",
        "flagged_reason",
        "created_by",
        "created_by_key",
        "created_at",
        "delivery_log",
    ]
    actions = ["reactivate", "rotate_secret"]

    def get_fields(self, request: HttpRequest, obj=None):
        fields = ["url", "description", "events", "is_active"]
        if request.user.is_superuser:
            fields.insert(0, "organization")
        if obj is not None:
            fields += self.readonly_fields
        return fields

    @admin.display(description=_("end of the secret"))
    def secret_hint(self, obj: WebhookSubscription) -> str:
        return obj.secret_hint

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events)

    @admin.display(description=_("delivery log"))
    def delivery_log(self, obj: WebhookSubscription) -> str:
        url = reverse("admin:api_webhookdelivery_changelist")
        return format_html(
            '<a href="{}?subscription__id__exact={}">{}</a>',
            url,
            obj.pk,
            _("%(count)d deliveries") % {"count": obj.deliveries.count()},
        )

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form, change: bool
    ) -> None:
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "events": list(data["events"]),
            "description": data["description"],
            "is_active": data["is_active"],
        }
        try:
            if change:
                webhook_subscription_update(subscription=obj, **fields)
                return
            organization_id = obj.organization_id or staff_organization_id(request.user)
            subscription, secret = webhook_subscription_create(
                organization=Organization.objects.get(pk=organization_id),
                created_by=request.user,
                **fields,
            )
        except ValidationError as exc:
            # Checked in the form too (clean); a DNS answer may change between.
            raise forms.ValidationError(exc.messages) from exc
        obj.pk = subscription.pk
        obj.__dict__.update(subscription.__dict__)
        self._show_secret(request, secret)

    def _show_secret(self, request: HttpRequest, secret: str) -> None:
        messages.warning(
            request,
            _(
                "The signing secret is shown this once; store it in the "
                "receiving system now: %(secret)s"
            )
            % {"secret": secret},
        )

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class CheckedForm(form):
            def clean(self):
                cleaned = super().clean()
                if not change and credentials_key_problem():
                    # Signing secrets are kept encrypted: without a key none
                    # can be stored (manage.py check says so: messaging.E006).
                    raise forms.ValidationError(
                        _(
                            "Webhook secrets cannot be stored: the server has no "
                            "CREDENTIALS_KEY. Ask the operator to set it."
                        )
                    )
                url = cleaned.get("url")
                if url:
                    try:
                        url_check(url, resolve=False)
                    except UnsafeUrlError as exc:
                        self.add_error("url", str(exc))
                return cleaned

        return CheckedForm

    @admin.action(
        description=_("Reactivate the selected subscriptions (clears the flag)"),
        permissions=["change"],
    )
    def reactivate(self, request: HttpRequest, queryset) -> None:
        for subscription in queryset:
            webhook_subscription_update(subscription=subscription, is_active=True)
        self.message_user(
            request,
            _("%(count)d subscription(s) reactivated.") % {"count": len(queryset)},
        )

    @admin.action(
        description=_("Give the selected subscriptions a new secret"),
        permissions=["change"],
    )
    def rotate_secret(self, request: HttpRequest, queryset) -> None:
        for subscription in queryset:
            _subscription, secret = webhook_subscription_rotate_secret(
                subscription=subscription
            )
            self._show_secret(request, f"{subscription.url}: {secret}")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdmin):
    list_display = [
        "created_at",
        "event",
        "subscription",
        "status",
        "attempts",
        "response_code",
        "error",
        "next_attempt_at",
    ]
    list_filter = ["status", "event", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["=public_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "public_id",
        "subscription",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "response_code",
        "error",
        "delivered_at",
        "replay_of",
        "created_at",
        "payload",
    ]
    fields = readonly_fields
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        # Replaying changes the subscription's log: whoever may manage it.
        return request.user.has_perm("api.change_webhooksubscription")

    @admin.action(
        description=_("Replay the selected deliveries"), permissions=["replay"]
    )
    def replay(self, request: HttpRequest, queryset) -> None:
        replayed, refused = 0, 0
        for delivery in queryset.select_related("subscription"):
            try:
                webhook_delivery_replay(delivery=delivery)
                replayed += 1
            except ReplayRefused:
                refused += 1
        self.message_user(
            request, _("%(count)d delivery(ies) replayed.") % {"count": replayed}
        )
        if refused:
            self.message_user(
                request,
                _("%(count)d not replayed: reactivate their subscription first.")
                % {"count": refused},
                level=messages.WARNING,
            )
