"""Whether a session passed the second factor, for code that has no request
middleware to ask (websocket consumers): what django-otp's middleware and
OTPAdminSite check on pages, read from the session."""

from __future__ import annotations

from django.apps import apps


def session_second_factor_passed(user, session) -> bool:
    """The session was verified with a confirmed device of this user (always
    true when django-otp is not installed)."""
    if not apps.is_installed("django_otp"):
        return True
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed
