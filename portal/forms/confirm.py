"""The explicit yes of the portal's confirmation pages (my data)."""

from __future__ import annotations

from django import forms


class ConfirmForm(forms.Form):
    """The explicit yes of a confirmation page, for one ``action``: a request
    without it (a form from an older page, a crafted POST) changes nothing."""

    confirm = forms.ChoiceField(widget=forms.HiddenInput)

    def __init__(self, *args, action: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirm"].choices = [(action, action)]
        self.fields["confirm"].initial = action
