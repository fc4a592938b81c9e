"""Template tags of the portal's navigation (see portal.navigation)."""

from django import template

from portal import navigation
from portal.navigation import request_access, tab_key, tabs_for

register = template.Library()


@register.filter
def portal_section(url_name: str | None) -> str:
    return navigation.portal_section(url_name)


@register.simple_tag(takes_context=True)
def portal_tabs(context) -> list[dict]:
    """The tabs of this request, each with ``current`` set on the one whose
    part the page belongs to."""
    request = context["request"]
    match = getattr(request, "resolver_match", None)
    section = tab_key(match.url_name if match else "")
    return [
        {"destination": tab, "current": tab.key == section}
        for tab in tabs_for(request_access(request))
    ]
