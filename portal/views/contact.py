"""Contact details in the preference centre: a new email or mobile number is
saved only once the code sent to it is entered (rules in
``portal.contact_points``)."""

from __future__ import annotations

from uuid import UUID

from phonenumber_field.phonenumber import to_python

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from clinic.models import Patient
from portal.access import patient_required
from portal.auth import throttling
from portal.contact_points.models import ContactPointChange
from portal.contact_points.selectors import (
    contact_change_get,
    contact_change_is_pending,
    contact_changes_confirmed,
    contact_changes_pending,
)
from portal.contact_points.services import (
    ContactChangeError,
    contact_change_cancel,
    contact_change_confirm,
    contact_change_request,
    contact_change_resend,
)
from portal.forms.contact import ContactCodeForm, ContactEmailForm, ContactPhoneForm
from portal.views.appointments import patient_locale, render_for

Kind = ContactPointChange.Kind
HIDDEN = "…"


def email_masked(email: str) -> str:
    """camille@example.org → c…@example.org"""
    if not email or "@" not in email:
        return ""
    local, _at, domain = email.rpartition("@")
    return f"{local[:1]}{HIDDEN}@{domain}"


def phone_masked(phone) -> str:
    """+33612345678 → +33 … 78"""
    if not phone:
        return ""
    national = str(phone.national_number or "")
    return f"+{phone.country_code} {HIDDEN} {national[-2:]}"


def phone_readable(value: str) -> str:
    """E.164 as the patient reads it: +33 6 12 34 56 78."""
    phone = to_python(value)
    return phone.as_international if phone and phone.is_valid() else value


def _forms(data=None, kind: str = "") -> dict:
    return {
        Kind.EMAIL: ContactEmailForm(data if kind == Kind.EMAIL else None),
        Kind.PHONE: ContactPhoneForm(data if kind == Kind.PHONE else None),
    }


@patient_required("preferences")
def contact_details(request: HttpRequest) -> HttpResponse:
    """The current email and mobile number, and a form to change each."""
    if not request.portal.may_change_contact_points:
        raise Http404
    patient = request.portal.patient
    kind = request.POST.get("form", "") if request.method == "POST" else ""
    forms = _forms(request.POST, kind)
    form = forms.get(kind)
    if form is not None and form.is_valid():
        with patient_locale(request, patient):
            try:
                change = contact_change_request(
                    patient=patient,
                    kind=kind,
                    value=form.cleaned_data[kind],
                    actor=request.user,
                )
            except ContactChangeError as error:
                form.add_error(kind, str(error))
            else:
                messages.success(request, _("We sent you a code."))
                return redirect("portal:contact_confirm", public_id=change.public_id)
    return _render_details(request, patient, forms)


def _render_details(request: HttpRequest, patient: Patient, forms: dict):
    return render_for(
        request,
        patient,
        "portal/preferences/contact.html",
        {
            "email": email_masked(patient.email),
            "phone": phone_masked(patient.phone),
            "email_form": forms[Kind.EMAIL],
            "phone_form": forms[Kind.PHONE],
            "pending": contact_changes_pending(patient=patient),
            "confirmed": contact_changes_confirmed(patient=patient),
        },
    )


@patient_required("preferences")
def contact_confirm(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Enter the code sent to the new address; or ask for another, or cancel."""
    if not request.portal.may_change_contact_points:
        raise Http404
    patient = request.portal.patient
    change = contact_change_get(patient=patient, public_id=public_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = ContactCodeForm()
    with patient_locale(request, patient):
        if not contact_change_is_pending(change):
            messages.info(request, _("This change is no longer waiting for a code."))
            return redirect("portal:contact_details")
        if request.method == "GET" and request.GET.get("cancel"):
            return render_for(
                request,
                patient,
                "portal/preferences/contact_cancel_confirm.html",
                {
                    "is_email": change.kind == Kind.EMAIL,
                    "address": _address(change),
                    "action_url": request.path,
                    "back_url": request.path,
                },
            )
        if action == "resend":
            try:
                contact_change_resend(change=change)
            except ContactChangeError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("We sent you a new code."))
            return redirect("portal:contact_confirm", public_id=change.public_id)
        if action == "cancel":
            contact_change_cancel(change=change)
            messages.success(request, _("The change is cancelled."))
            return redirect("portal:contact_details")
        if action == "confirm":
            form = ContactCodeForm(request.POST)
            if form.is_valid():
                done = _confirm(request, change, form)
                if done is not None:
                    return done
    return render_for(
        request,
        patient,
        "portal/preferences/contact_confirm.html",
        {
            "change": change,
            "is_email": change.kind == Kind.EMAIL,
            "address": _address(change),
            "form": form,
        },
    )


def _address(change: ContactPointChange) -> str:
    if change.kind == Kind.EMAIL:
        return change.new_value
    return phone_readable(change.new_value)


def _confirm(
    request: HttpRequest, change: ContactPointChange, form: ContactCodeForm
) -> HttpResponse | None:
    """Check the code; a redirect when the change is done or void, else None
    with the error on the form."""
    if throttling.otp_ip_blocked(request):
        form.add_error(
            "token",
            _(
                "Too many wrong codes from this connection. Wait 15 minutes "
                "before trying again."
            ),
        )
        return None
    try:
        contact_change_confirm(
            change=change, code=form.cleaned_data["token"], actor=request.user
        )
    except ContactChangeError as error:
        throttling.otp_ip_failure(request)
        change.refresh_from_db()
        if not contact_change_is_pending(change):
            messages.error(request, str(error))
            return redirect("portal:contact_details")
        form.add_error("token", str(error))
        return None
    if change.kind == Kind.EMAIL:
        messages.success(request, _("Your email address is changed."))
    else:
        messages.success(request, _("Your mobile number is changed."))
    return redirect("portal:contact_details")
