"""The time zone staff read and type times in.

The database and settings are UTC (``TIME_ZONE = "UTC"``); a staff member's
admin pages (lists, change forms, the conversation desk, the dashboard) are in
their organization's zone, activated for the request by
``StaffTimeZoneMiddleware``, so Django's own machinery (template ``date``
filter, ``localtime``, admin date-time widgets, ``date_hierarchy``) shows and
reads local times. A superuser has no organization or sees several: they pick
a zone in the admin header (kept in the session), UTC until they do. Portal
pages do not pass here: they render in the patient's own zone
(``timezone.override(patient.time_zone)`` in each view).
"""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import Organization, StaffMember
from clinic.validators import available_time_zones

SESSION_KEY = "admin_time_zone"
DEFAULT = "UTC"


def staff_time_zone(*, user: AbstractBaseUser, session: SessionBase) -> str:
    """The zone a staff user's admin pages are in.

    A staff member's organization's zone; for a superuser, the zone chosen in
    the header, else their organization's (if they have one), else UTC.
    """
    if user.is_superuser:
        chosen = session.get(SESSION_KEY)
        if chosen in available_time_zones():
            return chosen
    # One query for both: the organization id is cached on the user as
    # ``clinic.scoping.staff_organization_id`` does, so the view's scoping
    # does not ask again.
    row = (
        StaffMember.objects.filter(user=user)
        .order_by("pk")  # not by the user's name: no join
        .values_list("organization_id", "organization__time_zone")
        .first()
    )
    organization_id, zone = row if row else (None, None)
    if not hasattr(user, "_liaison_organization_id"):
        user._liaison_organization_id = organization_id
    return zone if zone in available_time_zones() else DEFAULT


def zone_label(zone: str | None) -> str:
    """The zone's name and its offset from UTC now: Europe/Paris (UTC+01:00)."""
    if not zone or zone == DEFAULT:
        return zone or ""
    offset = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(zone)).strftime("%z")
    return f"{zone} (UTC{offset[:3]}:{offset[3:]})"


def time_zone_choices(current: str) -> list[str]:
    """What the superuser's header select offers: UTC, the organizations'
    zones, and the zone in use (any IANA zone may be posted)."""
    organizations = Organization.objects.order_by().values_list("time_zone", flat=True)
    zones = {current, *organizations.distinct()}
    zones.discard(DEFAULT)
    return [DEFAULT, *sorted(zones)]


class StaffTimeZoneMiddleware:
    """Activate the staff user's zone for admin pages; deactivate afterwards.

    After the authentication middleware (it reads ``request.user``). Only
    views of the admin site: the portal keeps the patient's zone and the API
    states offsets itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            return self.get_response(request)
        finally:
            # Threads serve other requests next: leave no zone behind.
            timezone.deactivate()

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if (
            match is None
            or "admin" not in match.app_names
            or user is None
            or not user.is_authenticated
            or not user.is_active
            or not user.is_staff
        ):
            return
        zone = staff_time_zone(user=user, session=request.session)
        timezone.activate(zone)
        request.staff_time_zone = zone
