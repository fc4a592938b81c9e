"""Who a portal request acts for: the one place that answers it.

A signed-in user sees their own patient record, or, as a caregiver, the record
of a patient they were given proxy access to (chosen with ``act_for`` and kept
in the session), limited to the scopes of that link. Anything else is 404,
never 403, so another patient's existence is not revealed.

Privacy from proxies: the patient themself, once aged
``settings.PORTAL_PROXY_PRIVACY_AGE`` (15) on today's date in their own time
zone, may hide inbox lines and appointments from the people acting for them.
Hidden items are left out for every caregiver whose relationship is in
``PRIVACY_FROM``: every relationship, not only parents and guardians, because
the relationship is what staff picked when inviting (a step-parent or a
foster carer may be "other relative" or "other") and a teenager hiding an
item expects nobody acting for them to see it. The patient always sees
everything.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, wraps
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.models import Appointment, Caregiver, Patient

SESSION_KEY = "portal_acting_for"
SCOPES = {
    "appointments": "can_see_appointments",
    "messages": "can_see_messages",
    "results": "can_see_results",
    "preferences": "can_manage_preferences",
}
# The caregivers from whom items a patient hid are hidden (see the docstring).
PRIVACY_FROM = frozenset(Caregiver.Relationship.values)


def patient_age(patient: Patient, today: datetime.date | None = None) -> int:
    """The patient's age in whole years on ``today`` (default: today in the
    patient's own time zone). Born on 29 February: a year older on 1 March
    in common years."""
    if today is None:
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo(patient.time_zone))
    born = patient.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True)
class PortalAccess:
    patient: Patient
    caregiver: Caregiver | None = None  # set when a caregiver acts for the patient

    @property
    def is_proxy(self) -> bool:
        return self.caregiver is not None

    def allows(self, scope: str) -> bool:
        if self.caregiver is None:
            return True
        return bool(getattr(self.caregiver, SCOPES[scope]))

    @property
    def may_change_contact_points(self) -> bool:
        """The email and mobile number carry the patient's own sign-in codes:
        a proxy may change them only for a patient without an account."""
        return self.caregiver is None or self.patient.user_id is None

    @property
    def sees_hidden_items(self) -> bool:
        """Whether items the patient hid from proxies show: to the patient
        only, with every relationship in PRIVACY_FROM."""
        return self.caregiver is None or self.caregiver.relationship not in PRIVACY_FROM

    @property
    def may_hide_items(self) -> bool:
        """Whether this request may hide items from proxies: the patient
        themself (never a caregiver), aged PORTAL_PROXY_PRIVACY_AGE or more;
        also before anyone acts for them, so a link given later shows nothing
        they hid."""
        return (
            self.caregiver is None
            and patient_age(self.patient) >= settings.PORTAL_PROXY_PRIVACY_AGE
        )

    @cached_property
    def has_proxies(self) -> bool:
        """Whether anyone may act for the patient today (one query, once);
        the pages word the hiding controls by it."""
        return Caregiver.objects.active().filter(patient=self.patient).exists()

    @property
    def may_unhide_items(self) -> bool:
        """Whether this request may show hidden items to proxies again: the
        patient themself, at any age (it only gives access back, and keeps a
        corrected birth date from locking an item away)."""
        return self.caregiver is None

    def appointments(self) -> QuerySet[Appointment]:
        """The patient's appointments this request may show (unevaluated)."""
        appointments = Appointment.objects.for_organization(
            self.patient.organization_id
        ).filter(patient=self.patient)
        if not self.sees_hidden_items:
            appointments = appointments.filter(hidden_from_proxies_at__isnull=True)
        return appointments

    def appointment_get(self, public_id: UUID) -> Appointment:
        """One of ``appointments()``, with its organization and site; Http404
        for any other."""
        return get_object_or_404(
            self.appointments().select_related("organization", "site"),
            public_id=public_id,
        )


def caregiver_links(user) -> list[Caregiver]:
    """The patients a user may act for, links in force only."""
    return list(
        Caregiver.objects.active()
        .filter(user=user, patient__erased_at__isnull=True)
        .select_related("patient", "patient__organization")
    )


def portal_access(request: HttpRequest) -> PortalAccess:
    """The patient this request may show, and how; raises Http404 when none."""
    user = request.user
    if not user.is_authenticated:
        raise Http404
    acting_for = request.session.get(SESSION_KEY)
    if acting_for:
        link = next(
            (
                c
                for c in caregiver_links(user)
                if str(c.patient.public_id) == acting_for
            ),
            None,
        )
        if link is None:
            request.session.pop(SESSION_KEY, None)
            raise Http404
        return PortalAccess(patient=link.patient, caregiver=link)
    patient = (
        Patient.objects.filter(user=user, erased_at__isnull=True)
        .select_related("organization")
        .first()
    )
    if patient is None:
        raise Http404
    return PortalAccess(patient=patient)


def patient_required(scope: str | None = None) -> Callable:
    """View decorator: a signed-in user with access to a patient (and to
    ``scope`` of that patient's data, for a caregiver). Sets ``request.portal``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            access = portal_access(request)
            if scope is not None and not access.allows(scope):
                raise Http404
            request.portal = access
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
