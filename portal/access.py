"""Who a portal request acts for: the one place that answers it.

A signed-in user sees their own patient record, or, as a caregiver, the record
of a patient they were given proxy access to (chosen with ``act_for`` and kept
in the session), limited to the scopes of that link. Anything else is 404,
never 403, so another patient's existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from clinic.models import Caregiver, Patient

SESSION_KEY = "portal_acting_for"
SCOPES = {
    "appointments": "can_see_appointments",
    "messages": "can_see_messages",
    "results": "can_see_results",
    "preferences": "can_manage_preferences",
}


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
