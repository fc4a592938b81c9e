"""Appointments in the portal (list, confirm, cancel, calendar file) and the
public one-tap page that reminder links open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from clinic.appointment_tokens import TokenError, appointment_token_read
from clinic.appointments import (
    AppointmentActionError,
    appointment_can,
    appointment_cancel,
    appointment_confirm,
    appointment_ics,
)
from clinic.models import Appointment, Patient
from portal.access import patient_required
from portal.forms import CancelForm


def _appointment_get(patient: Patient, public_id: UUID) -> Appointment:
    return get_object_or_404(
        Appointment.objects.filter(patient=patient).select_related(
            "organization", "site"
        ),
        public_id=public_id,
    )


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
    patient = request.portal.patient
    now = timezone.now()
    appointments = Appointment.objects.filter(patient=patient).select_related(
        "organization", "site"
    )
    upcoming = list(appointments.filter(starts_at__gte=now).order_by("starts_at"))
    past = list(appointments.filter(starts_at__lt=now).order_by("-starts_at")[:50])
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
        {"upcoming": upcoming, "past": past},
    )


@require_POST
@patient_required("appointments")
def appointment_confirm_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    appointment = _appointment_get(request.portal.patient, public_id)
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
    appointment = _appointment_get(patient, public_id)
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
    appointment = _appointment_get(request.portal.patient, public_id)
    response = HttpResponse(
        appointment_ics(appointment=appointment),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="appointment-{appointment.public_id}.ics"'
    )
    return response


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
