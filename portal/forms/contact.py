"""The forms of the portal's contact details page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.auth.forms import CodeForm


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
