"""What the browser walk opens (tests/e2e/test_walk.py).

The portal's pages are read from its URL conf, so a page added there is
walked without anyone remembering to: every named ``portal:`` URL is opened
by a signed-in patient, except the names below, each with its reason.
``tests/portal/test_walk_pages.py`` (not a browser test) keeps these lists
true to the URL conf.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import URLPattern, URLResolver, get_resolver, reverse

POST_ONLY = "POST only: a button on a walked page; it answers with a redirect"
FILE = "a file to download, not a page"
JSON = "JSON for the page's own script, not a page"
OUTSIDE = "walked outside the signed-in session (test_walk's links and sign-in)"
WHILE_PENDING = (
    "a confirmation shown only while the request it undoes stands; the walk's "
    "patient has none (so its own page is walked), test_data_rights.py opens it"
)

# Portal URL names a signed-in patient does not open in the walk, and why.
NOT_WALKED_SIGNED_IN: dict[str, str] = {
    "act_for": POST_ONLY,
    "act_for_myself": POST_ONLY,
    "appointment_confirm": POST_ONLY,
    "appointment_hide": POST_ONLY,
    "appointment_unhide": POST_ONLY,
    "data_erasure_withdraw": WHILE_PENDING,
    "data_objection_lift": WHILE_PENDING,
    "inbox_reply": POST_ONLY,
    "inbox_mark_read": POST_ONLY,
    "inbox_hide": POST_ONLY,
    "inbox_unhide": POST_ONLY,
    "auth_keep_alive": POST_ONLY,
    "appointment_calendar": FILE,
    "data_export_json": FILE,
    "data_export_fhir": FILE,
    "data_summary_pdf": FILE,
    "auth_session_status": JSON,
    # The second step of signing in: a signed-in patient is sent home.
    "auth_verify": OUTSIDE,
    # Signed-in patients are sent home from it.
    "auth_signed_out": OUTSIDE,
    # A link from an invitation, for someone without an account yet.
    "enrol": OUTSIDE,
}

# The staged object (``stage walk-patient``'s ``objects``) each page with a
# ``<public_id>`` opens.
PAGE_OBJECTS: dict[str, str] = {
    "inbox_message": "message",
    "appointment_cancel": "appointment",
    "contact_confirm": "contact_change",
    "inbox_object": "message",
    "waitlist_leave": "waitlist",
}
# Pages that name their object in the query string instead.
PAGE_QUERY: dict[str, tuple[str, str]] = {
    "auth_device_remove": ("device", "device"),
}


def portal_routes() -> dict[str, str]:
    """Every named URL of the ``portal`` namespace → its route."""
    prefix, resolver = get_resolver().namespace_dict["portal"]
    routes: dict[str, str] = {}

    def collect(patterns, route: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                collect(pattern.url_patterns, route + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                routes[pattern.name] = route + str(pattern.pattern)

    collect(resolver.url_patterns, prefix)
    return routes


def portal_walk_names() -> list[str]:
    """The portal pages a signed-in patient opens in the walk, by URL name."""
    return sorted(set(portal_routes()) - set(NOT_WALKED_SIGNED_IN))


def portal_path(name: str, objects: dict[str, str]) -> str:
    """The path of page ``name`` for the staged patient's ``objects``."""
    kwargs = {}
    if name in PAGE_OBJECTS:
        kwargs["public_id"] = objects[PAGE_OBJECTS[name]]
    path = reverse(f"portal:{name}", kwargs=kwargs)
    if name in PAGE_QUERY:
        parameter, key = PAGE_QUERY[name]
        path += "?" + urlencode({parameter: objects[key]})
    return path


# Public pages opened from links in messages (``stage walk-links`` mints
# them); test_walk also opens /verify/ and the signed-out page.
LINK_PAGES = ("enrol", "survey", "unsubscribe", "appointment_action", "slot_offer")

# The staff pages walked besides the campaign (admin paths; the thread of a
# conversation is added with the id the stage gives).
STAFF_PAGES = {
    "admin-home": "/admin/",
    "conversations": "/admin/conversations/conversation/",
    "dashboard": "/admin/insights/dashboard/",
    "delivery-log": "/admin/messaging/delivery/",
}
