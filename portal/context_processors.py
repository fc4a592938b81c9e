"""``branding`` in every template: the clinic a page belongs to.

On a portal page (``request.portal``, set by ``patient_required``) it is the
organization of the patient shown, the one acted for when a caregiver acts
for someone: already loaded with the patient, so no query. On other pages
of a signed-in user (account settings) it is found in one query the same
way (the patient acted for, else the user's own record); anonymous pages
get Liaison's own, with no query. Lazy: a page that never reads
``branding`` pays nothing.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from clinic.branding import DEFAULT_BRANDING, Branding, branding_for
from clinic.models import Caregiver, Organization
from portal.access import SESSION_KEY

BRANDING_FIELDS = (
    "pk",
    "public_id",
    "name",
    "sender_name",
    "accent_colour",
    "logo_hash",
)


def request_branding(request: HttpRequest) -> Branding:
    access = getattr(request, "portal", False)
    if access:
        return branding_for(access.patient.organization)
    if access is None:  # a caregiver choosing whom to act for
        return DEFAULT_BRANDING
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return DEFAULT_BRANDING
    return branding_for(_signed_in_organization(request, user))


def _signed_in_organization(request: HttpRequest, user) -> Organization | None:
    organizations = Organization.objects.only(*BRANDING_FIELDS)
    acting_for = request.session.get(SESSION_KEY)
    if acting_for:
        # A caregiver's link in force to a patient not erased (as
        # portal.access.caregiver_links).
        links = Caregiver.objects.active().filter(
            user=user,
            patient__public_id=acting_for,
            patient__erased_at__isnull=True,
            patient__organization=OuterRef("pk"),
        )
        return organizations.filter(Exists(links)).first()
    return organizations.filter(
        patients__user=user, patients__erased_at__isnull=True
    ).first()


def branding(request: HttpRequest) -> dict:
    return {"branding": SimpleLazyObject(lambda: request_branding(request))}
