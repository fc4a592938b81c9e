"""A clinic's logo and theme stylesheet, public: the sign-in and verify pages
show them. They hold no patient data.

Their URLs carry a version (``?v=``, see ``clinic.branding.branding_for``):
asked for with the current one, an answer is cached for a year as immutable;
without it (or with an old one), for five minutes. Both carry an ETag and
answer 304 to a matching ``If-None-Match``.
"""

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_safe

from clinic.branding import DEFAULT_ACCENT, logo_version, theme_css, theme_version
from clinic.models import Organization, OrganizationLogo

IMMUTABLE_SECONDS = 365 * 24 * 3600
REVALIDATE_SECONDS = 300


def _cached(request: HttpRequest, version: str, build) -> HttpResponse:
    """``build()``'s response, or 304; with the ETag and cache headers."""
    etag = f'"{version}"'
    response = get_conditional_response(request, etag=etag) or build()
    response["ETag"] = etag
    if request.GET.get("v") == version:
        patch_cache_control(
            response, public=True, max_age=IMMUTABLE_SECONDS, immutable=True
        )
    else:
        patch_cache_control(response, public=True, max_age=REVALIDATE_SECONDS)
    return response


@require_safe
def brand_logo(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The organization's logo as uploaded (PNG, JPEG or WebP); 404 without
    one. The bytes are read only when the browser's copy is stale."""
    organization = get_object_or_404(
        Organization.objects.only("pk", "logo_hash").exclude(logo_hash=""),
        public_id=public_id,
    )

    def build() -> HttpResponse:
        logo = get_object_or_404(OrganizationLogo, organization_id=organization.pk)
        response = HttpResponse(bytes(logo.image), content_type=logo.content_type)
        response["Content-Disposition"] = "inline"
        return response

    return _cached(request, logo_version(organization.logo_hash), build)


@require_safe
def brand_theme(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """``:root{--accent:…;--accent-ink:…}`` for the organization (Liaison's
    default colours when it has chosen none)."""
    organization = get_object_or_404(
        Organization.objects.only("pk", "accent_colour"), public_id=public_id
    )
    accent = (organization.accent_colour or DEFAULT_ACCENT).lower()
    return _cached(
        request,
        theme_version(accent),
        lambda: HttpResponse(theme_css(accent), content_type="text/css; charset=utf-8"),
    )
