from django import forms
from django.utils.translation import gettext_lazy as _

# What a patient can say simply; the service stores exact daily windows.
MOMENTS = {
    "any": [],
    "morning": [["08:00", "12:00"]],
    "afternoon": [["12:00", "18:00"]],
}


class WaitlistForm(forms.Form):
    site = forms.ChoiceField(label=_("Where"), required=False)
    earliest = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    latest = forms.DateField(
        label=_("Until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    moment = forms.ChoiceField(
        label=_("When in the day"),
        choices=[
            ("any", _("Any time")),
            ("morning", _("Mornings (8:00 to 12:00)")),
            ("afternoon", _("Afternoons (12:00 to 18:00)")),
        ],
        initial="any",
    )

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", _("Any site"))] + [
            (str(site.pk), site.name) for site in sites
        ]
