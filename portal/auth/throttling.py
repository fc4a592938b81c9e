"""Throttling helpers: the username django-axes counts failures against, and a
per-address limit on wrong second-factor codes (django-otp throttles per device)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from config.client_address import client_ip

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
    """django-axes' lockout page (429), saying how long the pause lasts."""
    from django.shortcuts import render

    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(
        request, settings.AXES_LOCKOUT_TEMPLATE, {"minutes": minutes}, status=429
    )
