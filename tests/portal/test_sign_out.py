"""Signing out from any portal page (issue 18): a POST form with a CSRF token
in the portal's menu, landing on a page that says the session is over."""

import re

import pytest

from django.test import Client
from django.urls import reverse

PAGES = [
    "portal:home",
    "portal:inbox",
    "portal:appointments",
    "portal:preferences",
    "portal:feedback",
    "portal:data",
    "portal:auth_devices",
]


@pytest.mark.parametrize("name", PAGES)
def test_every_portal_page_has_a_sign_out_form(patient_client, name):
    body = patient_client.get(reverse(name)).content.decode()
    form = re.search(
        r'<form method="post" action="/accounts/logout/">(.*?)</form>', body, re.S
    )
    assert form, "no sign-out form"
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    # Camille reads French
    assert re.search(r"<button[^>]*>(Sign out|Se déconnecter)</button>", form.group(1))


def test_signing_out_lands_on_a_signed_out_page(patient_client):
    # when
    response = patient_client.post(reverse("account_logout"), follow=True)
    # then
    assert response.redirect_chain[-1][0] == reverse("portal:auth_signed_out")
    assert "You are signed out" in response.content.decode()
    home = patient_client.get(reverse("portal:home"))
    assert home.status_code == 302
    assert home.url.startswith(reverse("account_login"))


def test_the_signed_out_page_in_french(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="fr").get(reverse("portal:auth_signed_out"))
    assert "Vous êtes déconnecté" in response.content.decode()


def test_signing_out_needs_a_post_with_its_token(patient_client, patient_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patient_user[0])
    assert client.post(reverse("account_logout")).status_code == 403
    assert client.get(reverse("portal:home")).status_code == 200
