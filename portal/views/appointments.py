"""Appointments in the portal (list, confirm, cancel, calendar file) and the
public one-tap page that reminder links open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from clinic.appointments.actions import (
    AppointmentActionError,
    appointment_can,
    appointment_cancel,
    appointment_confirm,
    appointment_ics,
)
from clinic.appointments.tokens import TokenError, appointment_token_read
from clinic.models import Appointment, Patient
from clinic.visit_types import label_visit_types
from portal.access import patient_required
from portal.forms.appointments import CancelForm
from portal.privacy import PrivacyError, appointment_hide


@contextmanager
def patient_locale(request: HttpRequest, patient: Patient) -> Iterator[None]:
    """The patient's time zone, and their language unless the visitor chose
    one with the language switcher."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    known = dict(settings.LANGUAGES)
    language = chosen if chosen in known else patient.preferred_language
    with translation.override(language), timezone.override(patient.time_zone):
        yield


def render_for(
    request: HttpRequest, patient: Patient, template: str, context: dict
) -> HttpResponse:
    """Render a page in the patient's time zone and language."""
    with patient_locale(request, patient):
        return render(request, template, {**context, "patient": patient})


@patient_required("appointments")
def appointment_list(request: HttpRequest) -> HttpResponse:
    access = request.portal
    patient = access.patient
    now = timezone.now()
    # Without what the patient hid, for a caregiver (PortalAccess decides).
    appointments = access.appointments().select_related(
        "organization", "site", "practitioner__user"
    )
    ahead = appointments.filter(starts_at__gte=now).order_by("starts_at")
    # A cancelled appointment is no longer something to come to: it leaves
    # "Upcoming" for a section of its own until its date passes.
    cancelled = Appointment.Status.CANCELLED
    upcoming = list(ahead.exclude(status=cancelled))
    upcoming_cancelled = list(ahead.filter(status=cancelled))
    past = list(appointments.filter(starts_at__lt=now).order_by("-starts_at")[:50])
    label_visit_types(upcoming)  # the only cards that show the visit type
    for appointment in upcoming:
        appointment.can_confirm = appointment_can(
            appointment=appointment, action="confirm", now=now
        )
        appointment.can_cancel = appointment_can(
            appointment=appointment, action="cancel", now=now
        )
    return render_for(
        request,
        patient,
        "portal/appointments/list.html",
        {
            "upcoming": upcoming,
            "upcoming_cancelled": upcoming_cancelled,
            "past": past,
            "show_hidden_marker": not access.is_proxy,
            # The past table's privacy column, when it has something to show.
            "privacy_column": not access.is_proxy
            and (access.may_hide_items or any(a.hidden_from_proxies_at for a in past)),
            "may_hide": access.may_hide_items,
            "may_unhide": access.may_unhide_items,
        },
    )


@require_POST
@patient_required("appointments")
def appointment_confirm_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    appointment = request.portal.appointment_get(public_id)
    try:
        appointment_confirm(appointment=appointment)
    except AppointmentActionError:
        messages.error(request, _("This appointment can no longer be confirmed."))
    else:
        messages.success(request, _("Your appointment is confirmed."))
    return redirect("portal:appointments")


@patient_required("appointments")
def appointment_cancel_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    patient = request.portal.patient
    appointment = request.portal.appointment_get(public_id)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            appointment_cancel(
                appointment=appointment, reason=form.cleaned_data["reason"]
            )
        except AppointmentActionError:
            messages.error(request, _("This appointment can no longer be cancelled."))
        else:
            messages.success(request, _("Your appointment is cancelled."))
        return redirect("portal:appointments")
    return render_for(
        request,
        patient,
        "portal/appointments/cancel.html",
        {
            "appointment": appointment,
            "form": form,
            "can_cancel": appointment_can(appointment=appointment, action="cancel"),
        },
    )


@patient_required("appointments")
def appointment_calendar(request: HttpRequest, public_id: UUID) -> HttpResponse:
    appointment = request.portal.appointment_get(public_id)
    response = HttpResponse(
        appointment_ics(appointment=appointment),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="appointment-{appointment.public_id}.ics"'
    )
    return response


def _hide(request: HttpRequest, public_id: UUID, *, hidden: bool) -> HttpResponse:
    access = request.portal
    if access.is_proxy:
        raise Http404  # only the patient decides what the proxies see
    appointment = access.appointment_get(public_id)
    try:
        appointment_hide(
            access=access, appointment=appointment, hidden=hidden, user=request.user
        )
    except PrivacyError:
        messages.error(
            request,
            _(
                "You can hide appointments from the people who act for you from "
                "the age of %(age)s."
            )
            % {"age": settings.PORTAL_PROXY_PRIVACY_AGE},
        )
    else:
        messages.success(
            request,
            _(
                "Done: your parents, guardians and anyone else who acts for you "
                "can no longer see this appointment. You and the clinic still "
                "can. Messages about it are not hidden with it: hide them from "
                "your messages."
            )
            if hidden
            else _("Done: the people who act for you can see this appointment again."),
        )
    return redirect("portal:appointments")


@require_POST
@patient_required("appointments")
def appointment_hide_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Hide the appointment from the people acting for the patient; the
    patient only, from the privacy age."""
    return _hide(request, public_id, hidden=True)


@require_POST
@patient_required("appointments")
def appointment_unhide_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Show a hidden appointment to the people acting for the patient again."""
    return _hide(request, public_id, hidden=False)


@never_cache
@require_http_methods(["GET", "POST"])
def appointment_action(request: HttpRequest, token: str) -> HttpResponse:
    """The page a reminder's confirm or cancel link opens, without signing in.

    GET only shows what the button will do (link scanners prefetch links);
    POST does it. Neither signs anybody in nor touches the session.
    """
    try:
        appointment, action = appointment_token_read(token=token)
    except TokenError as error:
        return render(
            request,
            "portal/appointments/action_invalid.html",
            {"code": error.code},
            status=400,
        )
    context = {"appointment": appointment, "action": action, "token": token}
    if request.method == "POST":
        try:
            # Checked again under the row lock: two taps at once act once.
            service = appointment_confirm if action == "confirm" else appointment_cancel
            service(appointment=appointment, unchanged_since=appointment.updated_at)
        except AppointmentActionError:
            return render(
                request,
                "portal/appointments/action_invalid.html",
                {"code": "used"},
                status=400,
            )
        context["done"] = True
    return render_for(
        request, appointment.patient, "portal/appointments/action.html", context
    )
