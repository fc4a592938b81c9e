"""Every partner endpoint, from the URL conf, against keys and organizations.

For each route under ``/api/`` and ``/fhir/r4/`` and each HTTP method its view
allows: no key is 401; a key of the right organization without the scope the
view declares is 403; a key of another organization with every scope,
pointing at the first organization's objects, is 404 (a collection shows
none of them). REST errors are problem+json, FHIR errors OperationOutcome.

The routes come from ``django.urls.get_resolver()``, so a new endpoint is in
this matrix the moment it is routed. Its URL kwargs must be known to
``OBJECTS`` in tests/api/scope_support.py (which object of organization A fills them), or the test
fails and says what to add. Public routes are listed in ``PUBLIC``.
"""

from __future__ import annotations

import pytest

from django.urls import reverse

from api.scopes import Scope
from tests.api.conftest import ApiClient
from tests.api.scope_support import (
    NATURAL_KEYS,
    PUBLIC,
    ROUTES,
    Route,
    World,
    assert_error,
    call,
    needed_scope,
    url_of,
)
from tests.clinic.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(organization) -> World:
    return World(organization)


@pytest.fixture
def key_of(organization):
    def make(scopes, organization=organization) -> ApiClient:
        from api.keys import api_key_create

        _key, raw = api_key_create(
            organization=organization, name="Matrix", scopes=list(scopes)
        )
        return ApiClient(raw)

    return make


def test_the_matrix_sees_the_partner_api():
    """The URL walk finds the REST and FHIR routes (an empty walk tests nothing)."""
    names = {route.name for route, _method in ROUTES}
    assert {"api:patient-list", "api:patient-detail", "fhir:patient-instance"} <= names
    assert names >= PUBLIC


@pytest.mark.parametrize(
    ("route", "method"),
    [(r, m) for r, m in ROUTES if r.name not in PUBLIC],
    ids=lambda value: str(value),
)
def test_scopes_and_organizations(route, method, world, key_of):
    """No key: 401. Missing scope: 403. Another organization's key: 404 for
    the first one's objects, and none of them in a collection."""
    # given
    url = url_of(route, world)
    scope = needed_scope(route, method)
    # when / then: no key
    assert_error(call(ApiClient(), method, url), 401, url)
    # when / then: the right organization, every scope but the needed one
    lacking = key_of([s for s in Scope.values if s != scope])
    assert_error(call(lacking, method, url), 403, url)
    # when / then: another organization with every scope
    stranger = key_of(Scope.values, organization=OrganizationFactory(slug="other"))
    natural = [k for k in route.kwargs if (route.group, k) in NATURAL_KEYS]
    object_kwargs = [k for k in route.kwargs if k not in natural]
    if object_kwargs:
        assert_error(call(stranger, method, url), 404, url)
        # ... while the owner's key reaches the same URL: the 404 is the organization.
        owner = call(key_of(Scope.values), method, url)
        assert owner.status_code not in (404, 500), owner.content[:300]
    elif natural:
        _assert_natural_key_untouched(route, natural, method, url, stranger, world)
    elif method == "get":
        world.patient, world.message, world.appointment  # noqa: B018
        response = call(stranger, method, url)
        assert response.status_code < 500, response.content[:300]
        leaked = {i for i in world.object_ids() if i in response.content.decode()}
        assert not leaked, f"{url} showed organization A's objects {leaked}"


def _assert_natural_key_untouched(route, natural, method, url, stranger, world):
    """A create-or-update by the clinic's own key: another organization's
    request never reads or changes organization A's object."""
    obj = getattr(world, NATURAL_KEYS[route.group, natural[0]])
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    response = call(stranger, method, url)
    assert response.status_code < 500, response.content[:300]
    assert str(obj.public_id) not in response.content.decode()
    obj.refresh_from_db()
    after = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    assert after == before


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_routes_answer_without_a_key(client, name):
    """The documentation and the FHIR capability are public."""
    response = client.get(reverse(name))
    assert response.status_code == 200


def test_unknown_kwargs_fail_with_a_hint(world):
    """A route whose kwargs nobody registered fails and says what to add."""

    def view():
        raise AssertionError

    route = Route(
        name="api:thing-detail",
        path="api/v1/^things/(?P<id>[0-9a-f-]{36})/$",
        group="api:thing",
        kwargs=("id",),
        callback=view,
    )
    with pytest.raises(pytest.fail.Exception, match=r"add \('api:thing', kwarg\)"):
        url_of(route, world)
