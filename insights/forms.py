"""The dashboard's filters: organization (superusers only), site, period."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clinic.models import Organization, Site
from insights.kpis import Scope, attrition_days_default

DEFAULT_DAYS = 90


class DashboardFilterForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("organization"), queryset=Organization.objects.none(), required=False
    )
    site = forms.ModelChoiceField(
        label=_("site"),
        queryset=Site.objects.none(),
        required=False,
        empty_label=_("All sites"),
    )
    start = forms.DateField(
        # A context of its own: the bare "from" is a message's sender elsewhere.
        label=pgettext_lazy("start of a period", "from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=pgettext_lazy("end of a period", "to (included)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    inactive_days = forms.IntegerField(
        label=_("lapsed after (days)"), required=False, min_value=30, max_value=3650
    )

    def __init__(self, data, *, user, organization: Organization | None):
        super().__init__(data)
        self.user = user
        if user.is_superuser:
            self.fields["organization"].queryset = Organization.objects.all()
            # The sites of the organization asked for (checked again in clean).
            chosen = (data or {}).get("organization", "")
            organization = Organization.objects.filter(
                pk=int(chosen) if str(chosen).isdigit() else None
            ).first()
        else:
            del self.fields["organization"]
        self.organization = organization
        if organization is not None:
            self.fields["site"].queryset = Site.objects.for_organization(organization)

    def clean(self) -> dict:
        data = super().clean()
        if self.user.is_superuser:
            self.organization = data.get("organization")
            site = data.get("site")
            if site is not None and site.organization_id != getattr(
                self.organization, "pk", None
            ):
                raise ValidationError(
                    {"site": _("Choose a site of this organization.")}
                )
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise ValidationError({"end": _("The period must end after it starts.")})
        return data

    def scope(self) -> Scope | None:
        """The scope the valid form describes (None until an organization is known)."""
        if self.organization is None:
            return None
        zone = ZoneInfo(self.organization.time_zone)
        today = timezone.localdate(timezone=zone)
        end_date = self.cleaned_data.get("end") or today
        start_date = self.cleaned_data.get("start") or end_date - datetime.timedelta(
            days=DEFAULT_DAYS - 1
        )
        # Whole days in the organization's zone: [start 00:00, day after end 00:00).
        start = datetime.datetime.combine(start_date, datetime.time(), tzinfo=zone)
        end = datetime.datetime.combine(
            end_date + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
        )
        return Scope(
            organization=self.organization,
            site=self.cleaned_data.get("site"),
            start=start,
            end=end,
            inactive_days=self.cleaned_data.get("inactive_days")
            or attrition_days_default(),
        )
