"""The schema and its docs are served without a CDN; keys are made in admin."""

import re

import pytest

from django.contrib.messages import get_messages

from api.models import ApiKey
from tests.api.api_support import PATIENTS
from tests.api.conftest import ApiClient
from tests.clinic.factories import StaffMemberFactory

pytestmark = pytest.mark.django_db


def test_schema_is_public_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/patients/" in schema["paths"]


def test_docs_page_uses_only_our_own_scripts(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert sources
    assert all(src.startswith("/") for src in sources), sources
    assert not re.search(r"<script(?![^>]*src=)[^>]*>\s*\S", html), "inline script"
    for src in sources:
        assert client.get(src.split("?")[0]).status_code == 200, src


def test_admin_creates_a_key_and_shows_it_once(client, organization):
    member = StaffMemberFactory(organization=organization, role="admin")
    client.force_login(member.user)
    response = client.post(
        "/admin/api/apikey/add/",
        {"name": "CRM", "scopes": ["patients:read"], "rate_per_minute": 100},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="CRM")
    assert key.organization == organization
    assert key.created_by == member.user
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
    raw = re.search(r"lsn_\S+", shown).group(0)
    assert ApiClient(raw).get(PATIENTS).status_code == 200
    # Never again: the change page shows only the prefix.
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert raw not in page
    assert key.prefix in page
