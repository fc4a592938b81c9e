"""Admin for sender identities: clinic admins set their organization's numbers
and provider accounts; a stored secret is written, never shown back."""

import copy

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import Organization
from messaging.models import SenderIdentity, SenderProvider
from messaging.senders.selectors import organizations_without_sender
from messaging.senders.services import (
    sender_identity_save,
    sender_identity_secret_errors,
)


def warn_missing_senders(request: HttpRequest) -> None:
    """A warning per provider naming the organizations (those the user sees)
    whose SMS and calls through it fail for want of a sender identity."""
    visible = Organization.objects.visible_to(request.user)
    labels = dict(SenderProvider.choices)
    for provider, organizations in organizations_without_sender(visible).items():
        messages.warning(
            request,
            _(
                "No %(provider)s sender identity for %(organizations)s: their SMS "
                "and calls through %(provider)s fail. Add one under Messaging → "
                "Sender identities."
            )
            % {
                "provider": labels.get(provider, provider),
                "organizations": ", ".join(o.name for o in organizations),
            },
        )


class SenderIdentityForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "The Twilio auth token or Sinch API token of the account above, "
            "stored encrypted and never shown again. Leave blank to keep the "
            "stored one (or, without one, to use the platform's)."
        ),
    )
    clear_secret = forms.BooleanField(
        label=_("Remove the stored secret"), required=False
    )

    class Meta:
        model = SenderIdentity
        fields = [
            "organization",
            "provider",
            "phone_number",
            "messaging_service_sid",
            "account_id",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        identity = copy.copy(self.instance)
        identity.account_id = cleaned.get("account_id", "")
        errors = sender_identity_secret_errors(
            identity=identity,
            secret=cleaned.get("secret", ""),
            clear_secret=cleaned.get("clear_secret", False),
        )
        for field, error in errors.items():
            self.add_error(field, error)
        return cleaned


class SenderIdentityAdmin(OrganizationScopedAdmin):
    """Each organization's sender per provider (number, Messaging Service,
    account). Numbers another organization uses are refused by the form."""

    form = SenderIdentityForm
    list_display = [
        "organization",
        "provider",
        "phone_number",
        "messaging_service_sid",
        "account",
        "secret_stored",
    ]
    list_filter = ["provider", "organization"]
    search_fields = ["phone_number", "organization__name"]
    readonly_fields = ["secret_stored"]
    fields = [
        "organization",
        "provider",
        "phone_number",
        "messaging_service_sid",
        "account_id",
        "secret_stored",
        "secret",
        "clear_secret",
    ]

    @admin.display(description=_("account"))
    def account(self, obj: SenderIdentity) -> str:
        return obj.account_id or str(_("the platform's"))

    @admin.display(description=_("stored secret"))
    def secret_stored(self, obj: SenderIdentity) -> str:
        if obj.has_secret:
            return str(_("stored, encrypted"))
        return str(_("none: the platform's credentials are used"))

    def save_model(self, request: HttpRequest, obj, form, change) -> None:
        sender_identity_save(
            identity=obj,
            secret=form.cleaned_data.get("secret", ""),
            clear_secret=form.cleaned_data.get("clear_secret", False),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        warn_missing_senders(request)
        return super().changelist_view(request, extra_context)
