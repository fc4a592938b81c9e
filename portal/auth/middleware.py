"""Idle sessions end; portal pages need a verified second factor."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django_otp import user_has_device

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

LAST_ACTIVITY_KEY = "portal_last_activity"
# Asking how long is left is not activity (session-timeout.js polls it);
# nor is loading a clinic's logo or theme, whose public, cacheable answers
# must not set a session cookie.
PASSIVE_URL_NAMES = {"auth_session_status", "brand-logo", "brand-theme"}
# Portal pages reachable before the second factor: signing in, enrolment.
OTP_EXEMPT_PREFIXES = ("enrol", "auth_")


class IdleSessionMiddleware:
    """Sign out a user idle for more than ``SESSION_IDLE_TIMEOUT`` seconds."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_ACTIVITY_KEY)
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT:
                return self._expire(request)
            request.idle_timeout = settings.SESSION_IDLE_TIMEOUT
            request.idle_remaining = settings.SESSION_IDLE_TIMEOUT - (
                now - (last or now)
            )
            if last is None or not _is_passive(request):
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)

    def _expire(self, request):
        path = request.get_full_path()
        logout(request)
        minutes = max(1, settings.SESSION_IDLE_TIMEOUT // 60)
        messages.info(
            request,
            gettext(
                "You were signed out after %(minutes)s minutes without activity. "
                "Sign in again to continue."
            )
            % {"minutes": minutes},
        )
        if _is_passive(request) or request.method != "GET":
            return redirect("account_login")
        return redirect(f"{reverse('account_login')}?{urlencode({'next': path})}")


def _is_passive(request) -> bool:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.url_name in PASSIVE_URL_NAMES


class SecondFactorMiddleware:
    """Every /portal/ page but the security pages and enrolment needs a user
    verified by a second factor; users without one are sent to set one up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if (
            match is None
            or match.namespace != "portal"
            or user is None
            or not user.is_authenticated
            or (match.url_name or "").startswith(OTP_EXEMPT_PREFIXES)
            or user.is_verified()
        ):
            return None
        target = (
            "portal:auth_verify" if user_has_device(user) else "portal:auth_devices"
        )
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse(target)}?{query}")
