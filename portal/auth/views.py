"""Second-factor pages: verify after sign-in, list, add and remove devices."""

from __future__ import annotations

import io
import logging
import math

import qrcode
import qrcode.image.svg
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from portal.auth import throttling
from portal.auth.devices import (
    CodeNotDeliveredError,
    CodeNotSentError,
    EmailCodeDevice,
    SmsCodeDevice,
)
from portal.auth.forms import CodeForm, PasswordConfirmForm

logger = logging.getLogger(__name__)
BACKUP_CODE_COUNT = 10
PENDING_KEY = "portal_otp_pending_device"


def _next_url(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return settings.LOGIN_REDIRECT_URL


def _setup_allowed(request: HttpRequest) -> bool:
    """Devices change only once verified, or while the user has none yet."""
    return request.user.is_verified() or not user_has_device(request.user)


def _device_label(device: Device) -> str:
    if isinstance(device, TOTPDevice):
        return gettext("Authenticator app")
    if isinstance(device, StaticDevice):
        return gettext("Backup codes")
    if isinstance(device, EmailCodeDevice):
        return gettext("Code by email")
    if isinstance(device, SmsCodeDevice):
        return gettext("Code by SMS")
    return gettext("Code by email")  # staff: django-otp's email device


def _user_device(user, persistent_id: str, *, for_verify=False) -> Device:
    device = Device.from_persistent_id(persistent_id or "", for_verify=for_verify)
    if device is None or device.user_id != user.pk:
        raise Http404
    return device


def _wait_seconds(device: Device) -> int:
    allowed, data = device.verify_is_allowed()
    if allowed:
        return 0
    until = (data or {}).get("locked_until")
    if until is None:
        return 1
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def _throttled_message(seconds: int) -> str:
    return ngettext(
        "Too many wrong codes. Wait %(seconds)s second before trying again.",
        "Too many wrong codes. Wait %(seconds)s seconds before trying again.",
        seconds,
    ) % {"seconds": seconds}


def _check_code(request: HttpRequest, device: Device, token: str) -> bool:
    """Verify ``token`` on ``device`` with the throttles; adds the messages."""
    if throttling.otp_ip_blocked(request):
        messages.error(
            request,
            gettext(
                "Too many wrong codes from this connection. Wait 15 minutes "
                "before trying again."
            ),
        )
        return False
    with transaction.atomic():
        device = type(device).objects.select_for_update().get(pk=device.pk)
        wait = _wait_seconds(device)
        if wait:
            messages.error(request, _throttled_message(wait))
            return False
        if device.verify_token(token):
            request._verified_device = device
            return True
    throttling.otp_ip_failure(request)
    messages.error(
        request, gettext("That code is not right or has expired. Try again.")
    )
    return False


def _not_delivered(error: CodeNotDeliveredError, current: Device, choices) -> str:
    """Why no code is coming, and what to do instead: another of the
    patient's ways to confirm, or the clinic."""
    others = [label for _pid, label, device in choices if device != current]
    if others:
        advice = gettext("Choose another way to confirm: %(ways)s.") % {
            "ways": ", ".join(others)
        }
    else:
        patient = current.patient()
        clinic = patient.organization if patient else None
        if clinic and clinic.contact_email:
            advice = gettext(
                "Contact %(clinic)s (%(email)s) so that they check your "
                "contact details."
            ) % {"clinic": clinic.name, "email": clinic.contact_email}
        elif clinic:
            advice = gettext(
                "Contact %(clinic)s so that they check your contact details."
            ) % {"clinic": clinic.name}
        else:
            advice = gettext("Contact your clinic so that they check your details.")
    return f"{error} {advice}"


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    devices = list(devices_for_user(request.user, confirmed=True))
    if not devices:
        return redirect("portal:auth_devices")
    choices = [(d.persistent_id, _device_label(d), d) for d in devices]
    selected = request.POST.get("device") or request.GET.get("device") or ""
    current = next((d for pid, _l, d in choices if pid == selected), devices[0])
    form = CodeForm()
    if request.method == "POST":
        if request.POST.get("action") == "send":
            if hasattr(current, "generate_challenge"):
                try:
                    messages.success(request, current.generate_challenge())
                except CodeNotDeliveredError as error:
                    messages.error(request, _not_delivered(error, current, choices))
                except CodeNotSentError as error:
                    messages.error(request, str(error))
                except Exception:  # shown to the patient, never a 500 at sign-in
                    logger.exception("otp challenge failed device=%s", current.pk)
                    messages.error(request, gettext("We could not send a code."))
        else:
            form = CodeForm(request.POST)
            if form.is_valid() and _check_code(
                request, current, form.cleaned_data["token"]
            ):
                otp_login(request, request._verified_device)
                request.session.cycle_key()
                return redirect(_next_url(request))
    return render(
        request,
        "portal/auth/verify.html",
        {
            "form": form,
            "choices": choices,
            "current": current,
            "current_id": current.persistent_id,
            "sends_codes": isinstance(current, (EmailCodeDevice, SmsCodeDevice))
            or current.__class__.__name__ == "EmailDevice",
            "next": _next_url(request),
        },
    )


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    if not _setup_allowed(request):
        return redirect("portal:auth_verify")
    rows = [
        {"id": d.persistent_id, "label": _device_label(d), "device": d}
        for d in devices_for_user(request.user, confirmed=True)
    ]
    backup = StaticDevice.objects.filter(user=request.user, confirmed=True).first()
    return render(
        request,
        "portal/auth/devices.html",
        {
            "rows": rows,
            "backup_left": backup.token_set.count() if backup else None,
            "next": _next_url(request),
        },
    )


def _device_confirm_and_sign_in(request: HttpRequest, device: Device) -> HttpResponse:
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    request.session.pop(PENDING_KEY, None)
    otp_login(request, device)
    messages.success(request, gettext("Your second factor is ready."))
    return redirect("portal:auth_devices")


@login_required
def totp_add(request: HttpRequest) -> HttpResponse:
    if not _setup_allowed(request):
        return redirect("portal:auth_verify")
    device = (
        TOTPDevice.objects.filter(
            user=request.user, confirmed=False, pk=request.session.get(PENDING_KEY)
        ).first()
        if request.session.get(PENDING_KEY)
        else None
    )
    if device is None:
        TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
        device = TOTPDevice.objects.create(
            user=request.user, name=gettext("Authenticator app"), confirmed=False
        )
        request.session[PENDING_KEY] = device.pk
    form = CodeForm()
    if request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid() and _check_code(request, device, form.cleaned_data["token"]):
            return _device_confirm_and_sign_in(request, device)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration
    return render(
        request,
        "portal/auth/totp_add.html",
        {
            "form": form,
            "qr_svg": mark_safe(svg),  # noqa: S308 - generated here from our own URL
            "secret": _base32(device.bin_key),
        },
    )


def _base32(key: bytes) -> str:
    from base64 import b32encode

    text = b32encode(key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _side_channel_add(request: HttpRequest, model, channel: str) -> HttpResponse:
    if not _setup_allowed(request):
        return redirect("portal:auth_verify")
    patient = model(user=request.user).patient()
    prefs = getattr(patient, "preferences", None) if patient else None
    if channel == "email":
        address = patient.email if patient else ""
        verified = bool(address and prefs and prefs.email_verified_at)
    else:
        address = str(patient.phone) if patient and patient.phone else ""
        verified = bool(address and prefs and prefs.phone_verified_at)
    template = f"portal/auth/{channel}_add.html"
    if not verified:
        return render(request, template, {"unavailable": True})
    device = model.objects.filter(
        user=request.user, confirmed=False, pk=request.session.get(PENDING_KEY)
    ).first()
    form = CodeForm()
    if request.method == "POST" and request.POST.get("action") == "send":
        if device is None:
            model.objects.filter(user=request.user, confirmed=False).delete()
            device = model.objects.create(
                user=request.user, name=_device_label(model()), confirmed=False
            )
            request.session[PENDING_KEY] = device.pk
        try:
            messages.success(request, device.generate_challenge())
        except CodeNotSentError as error:
            messages.error(request, str(error))
    elif request.method == "POST" and device is not None:
        form = CodeForm(request.POST)
        if form.is_valid() and _check_code(request, device, form.cleaned_data["token"]):
            return _device_confirm_and_sign_in(request, device)
    return render(
        request,
        template,
        {
            "form": form,
            "address": address,
            # A code is on its way (devices.py clears it when none could go).
            "sent": device is not None and device.token is not None,
        },
    )


@login_required
def email_add(request: HttpRequest) -> HttpResponse:
    return _side_channel_add(request, EmailCodeDevice, "email")


@login_required
def sms_add(request: HttpRequest) -> HttpResponse:
    return _side_channel_add(request, SmsCodeDevice, "sms")


@login_required
def backup_codes(request: HttpRequest) -> HttpResponse:
    """GET explains; POST makes 10 new codes, shown this once."""
    if not _setup_allowed(request):
        return redirect("portal:auth_verify")
    codes = []
    if request.method == "POST":
        with transaction.atomic():
            device, _created = StaticDevice.objects.get_or_create(
                user=request.user,
                defaults={"name": gettext("Backup codes"), "confirmed": True},
            )
            device.token_set.all().delete()
            codes = [StaticToken.random_token() for _i in range(BACKUP_CODE_COUNT)]
            StaticToken.objects.bulk_create(
                [StaticToken(device=device, token=code) for code in codes]
            )
            if not device.confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
        if not request.user.is_verified():
            otp_login(request, device)
    return render(request, "portal/auth/backup_codes.html", {"codes": codes})


@login_required
def device_remove(request: HttpRequest) -> HttpResponse:
    if not _setup_allowed(request):
        return redirect("portal:auth_verify")
    device = _user_device(
        request.user, request.POST.get("device") or request.GET.get("device")
    )
    form = PasswordConfirmForm(user=request.user)
    if request.method == "POST" and "password" in request.POST:
        form = PasswordConfirmForm(request.POST, user=request.user)
        if form.is_valid():
            device.delete()
            messages.success(request, gettext("The second factor was removed."))
            return redirect("portal:auth_devices")
    return render(
        request,
        "portal/auth/device_remove.html",
        {
            "form": form,
            "device_id": device.persistent_id,
            "label": _device_label(device),
        },
    )


@require_GET
@login_required
def session_status(request: HttpRequest) -> JsonResponse:
    """Seconds left before the idle timeout; not itself activity."""
    return JsonResponse(
        {
            "remaining": int(
                getattr(request, "idle_remaining", settings.SESSION_IDLE_TIMEOUT)
            )
        }
    )


@require_POST
@login_required
def keep_alive(request: HttpRequest) -> JsonResponse:
    """ "Stay signed in": any non-passive request renews the activity clock."""
    return JsonResponse({"remaining": settings.SESSION_IDLE_TIMEOUT})


@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    """Where signing out lands (ACCOUNT_LOGOUT_REDIRECT_URL): says plainly
    that the session is over, for phones a family shares."""
    if request.user.is_authenticated:
        return redirect("portal:home")
    return render(request, "portal/auth/signed_out.html")
