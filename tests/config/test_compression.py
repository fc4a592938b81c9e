"""HTML pages travel gzipped to browsers that accept it (Lighthouse's
uses-text-compression); API answers do not, and static files stay
whitenoise's."""

import gzip

import pytest

pytestmark = pytest.mark.django_db


def test_a_page_is_gzipped_for_a_browser_that_accepts_it(client):
    # when
    response = client.get("/accounts/login/", HTTP_ACCEPT_ENCODING="gzip, br")
    # then
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert b"<html" in gzip.decompress(response.content)


def test_a_page_is_plain_for_a_client_that_does_not_accept_gzip(client):
    response = client.get("/accounts/login/")
    assert not response.has_header("Content-Encoding")
    assert b"<html" in response.content


def test_the_api_answers_uncompressed(client):
    """Partners keep the answers (and strong ETags) they had; only pages
    are gzipped."""
    response = client.get("/api/schema/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code in {200, 401, 403}
    assert not response.has_header("Content-Encoding")
