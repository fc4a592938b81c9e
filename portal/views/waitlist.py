"""The patient's waitlist: ask to be offered an earlier slot, or stop."""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from clinic.models import Site
from outreach.waitlist.models import WaitlistEntry
from outreach.waitlist.services import waitlist_join, waitlist_withdraw
from portal.access import patient_required
from portal.forms.waitlist import MOMENTS, WaitlistForm
from portal.views.appointments import render_for


def _sites(patient):
    return list(Site.objects.for_organization(patient.organization_id).order_by("name"))


@patient_required("appointments")
def waitlist(request: HttpRequest) -> HttpResponse:
    patient = request.portal.patient
    sites = _sites(patient)
    form = WaitlistForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        site = next((s for s in sites if str(s.pk) == data["site"]), None)
        try:
            waitlist_join(
                patient=patient,
                site=site,
                earliest=data["earliest"],
                latest=data["latest"],
                time_ranges=MOMENTS[data["moment"]],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for text in errors:
                    form.add_error(field if field in form.fields else None, text)
        else:
            messages.success(
                request,
                _("You are on the waitlist. We will tell you when a slot frees up."),
            )
            return redirect("portal:waitlist")
    entries = WaitlistEntry.objects.for_organization(patient.organization_id).filter(
        patient=patient, status=WaitlistEntry.Status.WAITING
    )
    return render_for(
        request,
        patient,
        "portal/appointments/waitlist.html",
        {"form": form, "entries": entries.select_related("site")},
    )


@require_http_methods(["GET", "POST"])
@patient_required("appointments")
def waitlist_leave(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET asks for confirmation; POST takes the patient off the waitlist."""
    patient = request.portal.patient
    entry = get_object_or_404(
        WaitlistEntry.objects.for_organization(patient.organization_id).select_related(
            "site"
        ),
        patient=patient,
        public_id=public_id,
    )
    if request.method == "GET":
        if entry.status != WaitlistEntry.Status.WAITING:
            return redirect("portal:waitlist")
        return render_for(
            request,
            patient,
            "portal/appointments/waitlist_leave_confirm.html",
            {
                "entry": entry,
                "action_url": request.path,
                "back_url": reverse("portal:waitlist"),
            },
        )
    waitlist_withdraw(entry=entry)
    messages.success(request, _("You are no longer on this waitlist."))
    return redirect("portal:waitlist")
