"""Forms of the portal's appointments, preferences and data pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.models import Language
from consent.models import Topic
from consent.vocabulary import Channel
from portal.auth.forms import CodeForm


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PreferencesForm(forms.Form):
    """Sending window, campaign frequency, language and a channel order per topic."""

    send_from = forms.TimeField(
        label=_("Send messages from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    send_until = forms.TimeField(
        label=_("Send messages until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    marketing_per_week = forms.IntegerField(
        label=_("Campaign messages per week at most"),
        required=False,
        min_value=0,
        max_value=50,
        help_text=_("Empty: the clinic's default."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=Language.choices
    )

    def __init__(self, *args, topics: list[Topic], language: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.topics = topics
        for topic in topics:
            if len(topic.channels) < 2:
                continue
            self.fields[f"order_{topic.slug}"] = forms.ChoiceField(
                label=topic.name(language),
                choices=[(c, Channel(c).label) for c in topic.channels],
                required=False,
            )

    def channel_order_fields(self):
        return [self[name] for name in self.fields if name.startswith("order_")]


class ContactEmailForm(forms.Form):
    """A new email address; the rules are in ``portal.contact_points``."""

    email = forms.CharField(
        label=_("New email address"),
        max_length=254,
        widget=forms.EmailInput(
            attrs={
                "autocomplete": "email",
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
    )


class ContactPhoneForm(forms.Form):
    """A new mobile number; the rules are in ``portal.contact_points``."""

    phone = forms.CharField(
        label=_("New mobile number"),
        max_length=32,
        help_text=_(
            "A mobile number that can receive SMS. From abroad, start with + and "
            "the country code."
        ),
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}
        ),
    )


class ContactCodeForm(CodeForm):
    """The code sent to the new address (the second-factor code field)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token"].help_text = _(
            "The 6-digit code we sent to the new address."
        )


class ConfirmForm(forms.Form):
    """The explicit yes of a confirmation page, for one ``action``: a request
    without it (a form from an older page, a crafted POST) changes nothing."""

    confirm = forms.ChoiceField(widget=forms.HiddenInput)

    def __init__(self, *args, action: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirm"].choices = [(action, action)]
        self.fields["confirm"].initial = action
