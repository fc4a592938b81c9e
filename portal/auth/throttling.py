"""Throttling helpers: the username django-axes counts failures against, and a
per-address limit on wrong second-factor codes (django-otp throttles per device)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.client_address import client_ip

OTP_IP_LIMIT = 20  # wrong codes from one address per cool-off period


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """allauth authenticates with ``username`` or ``email``; the admin with
    ``username``; the form field is ``login``."""
    credentials = credentials or {}
    for key in ("username", "email", "login"):
        if credentials.get(key):
            return str(credentials[key]).strip().lower()
    value = request.POST.get("login") or request.POST.get("username")
    return value.strip().lower() if value else None


def _key(request: HttpRequest) -> str:
    return f"otp-failures:{client_ip(request) or 'unknown'}"


def _cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def otp_ip_blocked(request: HttpRequest) -> bool:
    return cache.get(_key(request), 0) >= OTP_IP_LIMIT


def otp_ip_failure(request: HttpRequest) -> None:
    key = _key(request)
    if cache.add(key, 1, _cooloff_seconds()):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.set(key, 1, _cooloff_seconds())


def lockout_response(request: HttpRequest, response=None, credentials=None):
    """django-axes' lockout page (429): when to try again, as a time of day
    and in minutes; admin's own look for staff."""
    import math

    from django.shortcuts import render
    from django.urls import reverse
    from django.utils import timezone

    from portal.auth.lockout import lockout_ends_at

    now = timezone.now()
    ends = lockout_ends_at(request, credentials) or (now + settings.AXES_COOLOFF_TIME)
    # The page names a whole minute: the end, rounded up.
    retry_at = ends.replace(second=0, microsecond=0)
    if retry_at < ends:
        retry_at += datetime.timedelta(minutes=1)
    minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
    template = settings.AXES_LOCKOUT_TEMPLATE
    context = {"minutes": minutes, "retry_at": retry_at}
    if request.path.startswith(reverse("admin:index")):
        from django.contrib import admin

        template = "admin/lockout.html"
        context |= admin.site.each_context(request)
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(max(1, math.ceil((retry_at - now).total_seconds())))
    return response
