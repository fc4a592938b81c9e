"""The browser walk's page list (tests/e2e/pages.py) stays true to the URL
conf: every named portal URL is walked or excluded with a reason, an
exclusion names a real URL, and a page excluded as POST only refuses GET."""

import uuid

import pytest

from django.urls import reverse

from tests.e2e.pages import (
    NOT_WALKED_SIGNED_IN,
    PAGE_OBJECTS,
    PAGE_QUERY,
    POST_ONLY,
    portal_path,
    portal_routes,
    portal_walk_names,
)

OBJECTS = {
    "message": str(uuid.uuid4()),
    "appointment": str(uuid.uuid4()),
    "contact_change": str(uuid.uuid4()),
    "waitlist": str(uuid.uuid4()),
    "device": "otp_static.staticdevice/1",
}


def test_every_named_portal_url_is_walked_or_excluded_with_a_reason():
    names = set(portal_routes())
    walked = set(portal_walk_names())
    assert {"home", "inbox", "appointments", "preferences", "data"} <= walked
    assert walked | set(NOT_WALKED_SIGNED_IN) == names
    assert not walked & set(NOT_WALKED_SIGNED_IN)
    assert all(reason.strip() for reason in NOT_WALKED_SIGNED_IN.values())


def test_no_exclusion_or_staged_object_names_a_url_that_is_gone():
    names = set(portal_routes())
    assert set(NOT_WALKED_SIGNED_IN) <= names
    assert set(PAGE_OBJECTS) | set(PAGE_QUERY) <= set(portal_walk_names())
    assert set(PAGE_OBJECTS.values()) | {k for _p, k in PAGE_QUERY.values()} <= set(
        OBJECTS
    )


def test_every_walked_page_has_a_path():
    """A new page with an object in its URL needs one staged for the walk
    (PAGE_OBJECTS and ``stage walk-patient``): without it, no path."""
    for name in portal_walk_names():
        path = portal_path(name, OBJECTS)
        assert path.startswith("/portal/"), (name, path)
        assert "<" not in path


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", sorted(n for n, why in NOT_WALKED_SIGNED_IN.items() if why == POST_ONLY)
)
def test_a_page_excluded_as_post_only_refuses_get(client, name):
    route = portal_routes()[name]
    kwargs = {"public_id": uuid.uuid4()} if "<uuid:public_id>" in route else {}
    response = client.get(reverse(f"portal:{name}", kwargs=kwargs))
    assert response.status_code == 405, (name, response.status_code)
