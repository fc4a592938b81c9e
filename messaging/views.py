"""Public pages of messaging: the authenticity check."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from clinic.branding import DEFAULT_BRANDING
from core.client_address import client_ip
from core.ratelimit import allow
from messaging.selectors import authenticity_code_verify

VERIFY_LIMIT = 10  # attempts per IP per window: enough for a person, not for a guesser
VERIFY_WINDOW_SECONDS = 600


class VerifyForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the message"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters"}
        ),
    )


@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """Tell whether a code was really sent by a Liaison organization, and when."""
    form = VerifyForm(request.POST or None)
    # Liaison's own branding unless a code proves which clinic sent it: a
    # patient signed in elsewhere must not see their clinic's beside a fake.
    context: dict = {"form": form, "branding": DEFAULT_BRANDING}
    status = 200
    if request.method == "POST" and form.is_valid():
        if not allow(
            f"verify:{client_ip(request) or 'unknown'}",
            limit=VERIFY_LIMIT,
            window_seconds=VERIFY_WINDOW_SECONDS,
        ):
            context["throttled"] = True
            status = 429
        else:
            context["checked"] = True
            verification = authenticity_code_verify(code=form.cleaned_data["code"])
            context["verification"] = verification
            if verification is not None:
                context["branding"] = verification.branding
    return render(request, "messaging/verify.html", context, status=status)
