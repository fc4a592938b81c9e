"""Partner-API fixtures: an organization, a key with chosen scopes, and a
client that sends it as a bearer token."""

import pytest

from django.test import Client

from api.keys import api_key_create
from api.scopes import Scope
from tests.clinic.factories import OrganizationFactory, PatientFactory


class ApiClient(Client):
    """Django's test client speaking JSON with a bearer key."""

    def __init__(self, raw_key: str = "", **defaults):
        if raw_key:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw_key}"
        super().__init__(**defaults)

    def post_json(self, path, data, **extra):
        return self.post(path, data, content_type="application/json", **extra)

    def put_json(self, path, data, **extra):
        return self.put(path, data, content_type="application/json", **extra)

    def patch_json(self, path, data, **extra):
        return self.patch(path, data, content_type="application/json", **extra)


@pytest.fixture
def organization(db):
    return OrganizationFactory(slug="north", name="North clinic")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(slug="south", name="South clinic")


@pytest.fixture
def make_client(organization):
    """``make_client(scopes=[...], organization=...)`` → (client, key)."""

    def make(scopes=tuple(Scope.values), organization=organization, **options):
        key, raw = api_key_create(
            organization=organization, name="EHR sync", scopes=list(scopes), **options
        )
        return ApiClient(raw), key

    return make


@pytest.fixture
def api(make_client):
    """A client whose key has every scope."""
    client, _key = make_client()
    return client


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization)


@pytest.fixture
def hook(httpserver, organization):
    """A webhook subscription to every event at a receiver answering 200."""
    from tests.api.webhooks_support import subscribe

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    subscription, secret = subscribe(organization, httpserver.url_for("/hook"))
    return subscription, secret


@pytest.fixture
def send_on_commit(django_capture_on_commit_callbacks):
    """Run what commits would run (task queueing; tasks are sync in tests)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
