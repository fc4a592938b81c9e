"""The portal's home and the caregiver's "acting for" switch."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.models import Appointment
from messaging.inbox import inbox_unread_count
from portal.access import SESSION_KEY, PortalAccess, caregiver_links, portal_access
from portal.navigation import more_for
from portal.views.appointments import render_for


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
    access = request.portal
    return render_for(
        request,
        access.patient,
        "portal/home.html",
        {"links": links, **_summary(access)},
    )


def _summary(access: PortalAccess) -> dict:
    """What the patient (or proxy) would look for first, within its scopes:
    unread messages and the next appointment (two queries)."""
    summary = {
        "shows_messages": access.allows("messages"),
        "shows_appointments": access.allows("appointments"),
    }
    if summary["shows_messages"]:
        summary["unread"] = inbox_unread_count(
            patient=access.patient, include_hidden=access.sees_hidden_items
        )
    if summary["shows_appointments"]:
        summary["next_appointment"] = (
            access.appointments()
            .filter(starts_at__gte=timezone.now())
            .exclude(status=Appointment.Status.CANCELLED)
            .select_related("site")
            .order_by("starts_at")
            .first()
        )
    return summary


@login_required
def more(request: HttpRequest) -> HttpResponse:
    """The destinations that do not fit in the tab bar, the language and
    signing out; a caregiver acting for someone sees only what they may use."""
    links = caregiver_links(request.user)
    try:
        request.portal = portal_access(request)
    except Http404:
        if not links:
            raise
        request.portal = None
        return render(request, "portal/more.html", {"links": more_for(None)})
    return render_for(
        request,
        request.portal.patient,
        "portal/more.html",
        {"links": more_for(request.portal)},
    )


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
