from django import forms
from django.utils.translation import gettext_lazy as _


class EnrolForm(forms.Form):
    birth_date = forms.DateField(
        label=_("Patient's birth date"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
    )
    username = forms.CharField(
        label=_("Choose a username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    password1 = forms.CharField(
        label=_("Choose a password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
