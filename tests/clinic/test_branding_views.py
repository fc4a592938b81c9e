"""/brand/<organization>/logo and /brand/<organization>/theme.css: public,
cached by version, 404 for an unknown organization, no patient data."""

import uuid

import pytest

from clinic import services
from clinic.branding import branding_for
from tests.clinic.branding_support import image_bytes
from tests.clinic.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

YEAR = 365 * 24 * 3600


@pytest.fixture
def branded(organization):
    organization.accent_colour = "#6b3fa0"
    organization.save()
    services.organization_logo_set(organization=organization, data=image_bytes())
    return organization


def test_the_logo_is_served_as_uploaded_and_cached_for_a_year(client, branded):
    url = branding_for(branded).logo_url
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == image_bytes()
    assert f"max-age={YEAR}" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"]
    assert response["ETag"] == f'"{branded.logo_hash[:16]}"'


def test_the_theme_sets_the_clinics_accent_and_ink(client, branded):
    response = client.get(branding_for(branded).theme_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    assert response.text == ":root{--accent:#6b3fa0;--accent-ink:#ffffff}\n"
    assert "immutable" in response["Cache-Control"]


def test_without_the_current_version_answers_are_cached_briefly(client, branded):
    base = f"/brand/{branded.public_id}"
    for path in (f"{base}/logo", f"{base}/theme.css", f"{base}/logo?v=old"):
        response = client.get(path)
        assert response.status_code == 200
        assert "max-age=300" in response["Cache-Control"]
        assert "immutable" not in response["Cache-Control"]


def test_a_matching_etag_answers_not_modified(
    client, branded, django_assert_num_queries
):
    url = branding_for(branded).logo_url
    etag = client.get(url)["ETag"]
    with django_assert_num_queries(1):  # the organization row, not the bytes
        response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert client.get(url, headers={"if-none-match": '"other"'}).status_code == 200


def test_a_changed_logo_changes_its_url(client, branded):
    before = branding_for(branded).logo_url
    services.organization_logo_set(
        organization=branded, data=image_bytes("PNG", (9, 9))
    )
    after = branding_for(branded).logo_url
    assert after != before
    assert client.get(after).content == image_bytes("PNG", (9, 9))


def test_an_unknown_organization_or_no_logo_is_404(client, organization):
    unknown = uuid.uuid4()
    assert client.get(f"/brand/{unknown}/logo").status_code == 404
    assert client.get(f"/brand/{unknown}/theme.css").status_code == 404
    assert client.get(f"/brand/{organization.public_id}/logo").status_code == 404
    assert client.get("/brand/not-a-uuid/logo").status_code == 404


def test_an_organization_without_an_accent_gets_liaisons_colours(client, organization):
    response = client.get(f"/brand/{organization.public_id}/theme.css")
    assert response.text == ":root{--accent:#0b5cad;--accent-ink:#ffffff}\n"


def test_only_reading_is_allowed(client, branded):
    url = branding_for(branded).logo_url
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


def test_a_signed_in_patient_gets_no_session_cookie_with_them(client, branded):
    """Public, cacheable answers must not carry a session cookie (loading
    them is not activity, portal/auth/middleware.py)."""
    patient = PatientFactory(organization=branded, user=UserFactory(username="lou"))
    client.force_login(patient.user)
    client.get("/portal/")  # activity recorded
    for url in (branding_for(branded).logo_url, branding_for(branded).theme_url):
        response = client.get(url)
        assert response.status_code == 200
        assert "sessionid" not in response.cookies
