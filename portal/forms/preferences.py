"""The form of the portal's preferences page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic.models import Language
from consent.models import Topic
from consent.vocabulary import Channel


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
