"""API keys in admin: created with their scopes, the secret shown once, revoked
with one action; each organization's staff see only their own keys."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey
from api.scopes import Scope
from clinic.admin_scoping import OrganizationScopedAdmin
from clinic.models import Organization
from clinic.scoping import staff_organization_id


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes", "rate_per_minute"]


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "organization",
        "scope_labels",
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
        fields = ["name", "scopes", "rate_per_minute"]
        if request.user.is_superuser:
            fields.insert(0, "organization")
        if obj is not None:
            fields += self.readonly_fields
        return fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        organization_id = obj.organization_id or staff_organization_id(request.user)
        key, raw = api_key_create(
            organization=Organization.objects.get(pk=organization_id),
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
            rate_per_minute=obj.rate_per_minute,
        )
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        messages.warning(
            request,
            _("The key is shown this once; store it in the partner system now: %(key)s")
            % {"key": raw},
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(
            request, _("%(count)d key(s) revoked.") % {"count": len(queryset)}
        )
