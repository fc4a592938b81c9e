"""Public pages of consent: the one-click email unsubscribe (RFC 8058)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from consent.errors import ConsentError
from consent.unsubscribe import unsubscribe_apply, unsubscribe_target_get
from consent.vocabulary import Purpose
from core.client_address import client_ip

TEMPLATE = "consent/unsubscribe.html"


def _render_for(request: HttpRequest, language: str, context: dict) -> HttpResponse:
    with translation.override(language):
        response = render(request, TEMPLATE, context)
    response.headers["Content-Language"] = language
    return response


# The signed token is the authorisation, and RFC 8058 mail clients POST
# without a CSRF token, so CSRF protection would only break one-click.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (mail scanners prefetch links); POST unsubscribes."""
    try:
        patient, topic = unsubscribe_target_get(token=token)
        if request.method == "POST":
            unsubscribe_apply(
                token=token,
                ip_address=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                one_click=request.POST.get("List-Unsubscribe") == "One-Click",
            )
    except ConsentError:
        return render(request, TEMPLATE, {"invalid": True}, status=400)
    language = patient.preferred_language
    context = {
        "done": request.method == "POST",
        "organization_name": patient.organization.name,
        "topic_name": topic.name(language),
        "is_care": topic.purpose == Purpose.CARE,
    }
    return _render_for(request, language, context)
