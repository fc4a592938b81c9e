"""The portal's navigation: at most five tabs (a bottom tab bar on phones, a
row in the header at a desk), and the "More" page that lists the rest.

What each destination needs is the rule the pages themselves apply: a
caregiver acting for a patient sees Messages, Appointments and Preferences
only with the matching scope, and never Your feedback or My data.
``aria-current`` marks the tab of the part a page belongs to: screen readers
announce it, eyes see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.access import PortalAccess, portal_access

# url_name prefix → navigation entry; the first match wins.
SECTIONS = (
    ("inbox", "inbox"),
    ("appointment", "appointments"),
    ("waitlist", "appointments"),
    ("preferences", "preferences"),
    ("contact", "preferences"),
    ("data", "data"),
    ("feedback", "feedback"),
    ("auth_", "security"),
    ("more", "more"),
    ("home", "home"),
)
# Parts reached from the "More" page: its tab is the current one there.
UNDER_MORE = frozenset({"data", "feedback", "security", "more"})


@dataclass(frozen=True)
class Destination:
    key: str
    url_name: str
    label: str
    icon: str = ""

    @property
    def url(self) -> str:
        return reverse(self.url_name)


def portal_section(url_name: str | None) -> str:
    """The part of the portal a URL name belongs to ("" for none)."""
    for prefix, section in SECTIONS:
        if (url_name or "").startswith(prefix):
            return section
    return ""


def tab_key(url_name: str | None) -> str:
    """The tab a page's URL name marks as current."""
    section = portal_section(url_name)
    return "more" if section in UNDER_MORE else section


def request_access(request: HttpRequest) -> PortalAccess | None:
    """The request's portal access: the view's, or worked out here for pages
    that do not set it (sign-in security); None when there is none."""
    if hasattr(request, "portal"):
        return request.portal
    try:
        return portal_access(request)
    except Http404:
        return None


def _allows(access: PortalAccess | None, scope: str) -> bool:
    return access is not None and access.allows(scope)


def tabs_for(access: PortalAccess | None) -> list[Destination]:
    """Home, then Messages, Appointments and Preferences as the access
    allows, then More: five at most."""
    tabs = [Destination("home", "portal:home", _("Home"), "home")]
    if _allows(access, "messages"):
        tabs.append(Destination("inbox", "portal:inbox", _("Messages"), "inbox"))
    if _allows(access, "appointments"):
        tabs.append(
            Destination(
                "appointments",
                "portal:appointments",
                # Short words: five labels share a phone's width.
                pgettext_lazy("tab", "Visits"),
                "calendar",
            )
        )
    if _allows(access, "preferences"):
        tabs.append(
            Destination(
                "preferences",
                "portal:preferences",
                pgettext_lazy("tab", "Settings"),
                "sliders",
            )
        )
    tabs.append(Destination("more", "portal:more", _("More"), "more"))
    return tabs


def more_for(access: PortalAccess | None) -> list[Destination]:
    """What the "More" page lists besides the language and signing out."""
    links = []
    if access is not None and not access.is_proxy:
        links.append(Destination("feedback", "portal:feedback", _("Your feedback")))
        links.append(Destination("data", "portal:data", _("My data")))
    links.append(Destination("security", "portal:auth_devices", _("Sign-in security")))
    return links
