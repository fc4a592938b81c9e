"""The portal's home and the caregiver's "acting for" switch."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.access import SESSION_KEY, caregiver_links, portal_access


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The patient's home; a caregiver with no record of their own chooses
    whom to act for here."""
    links = caregiver_links(request.user)
    try:
        request.portal = portal_access(request)
    except Http404:
        if not links:
            raise
        request.portal = None
    return render(request, "portal/home.html", {"links": links})


@require_POST
@login_required
def act_for(request: HttpRequest, public_id: UUID) -> HttpResponse:
    if not any(
        link.patient.public_id == public_id for link in caregiver_links(request.user)
    ):
        raise Http404
    request.session[SESSION_KEY] = str(public_id)
    return redirect("portal:home")


@require_POST
@login_required
def act_for_myself(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("portal:home")
