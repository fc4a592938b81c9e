"""Which part of the portal a page belongs to, for the navigation's
``aria-current``: screen readers announce the current part, eyes see it."""

from django import template

register = template.Library()

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
    ("home", "home"),
)


@register.filter
def portal_section(url_name: str | None) -> str:
    for prefix, section in SECTIONS:
        if (url_name or "").startswith(prefix):
            return section
    return ""
