"""A clinic administrator edits the branding in admin: the accent colour is
refused below 4.5:1 with the measured ratio, the logo is checked by decoding
it, and it can be cleared."""

import pytest

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clinic.models import OrganizationLogo
from tests.clinic.branding_support import SVG, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(organization):
    return reverse("admin:clinic_organization_change", args=[organization.pk])


def form(**changes):
    return {
        "name": "Clinique des Lilas",
        "time_zone": "Europe/Paris",
        "default_language": "fr",
        "country": "FR",
        "contact_email": "contact@clinic.example.org",
        "contact_phone": "",
        "sender_name": "",
        "accent_colour": "",
        **changes,
    }


def errors(response, field):
    return response.context["adminform"].form.errors.get(field, [])


def test_the_change_page_offers_the_branding_fields(staff_client, url):
    page = staff_client.get(url).content.decode()
    for name in ("sender_name", "accent_colour", "logo"):
        assert f'name="{name}"' in page
    assert 'enctype="multipart/form-data"' in page


def test_branding_is_saved(staff_client, url, organization):
    response = staff_client.post(
        url,
        form(
            sender_name="Secrétariat des Lilas",
            accent_colour="#6B3FA0",
            logo=SimpleUploadedFile("logo.png", image_bytes(), "image/png"),
        ),
    )
    assert response.status_code == 302, errors(response, "__all__")
    organization.refresh_from_db()
    assert organization.sender_name == "Secrétariat des Lilas"
    assert organization.accent_colour == "#6b3fa0"
    logo = OrganizationLogo.objects.get(organization=organization)
    assert (logo.content_type, bytes(logo.image)) == ("image/png", image_bytes())
    assert organization.logo_hash == logo.sha256


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["4.48:1", "4.5:1", "WCAG 2.2 AA"]),
        ("fr", ["4,48:1", "4,5:1", "contraste"]),
    ],
)
def test_a_colour_that_fails_contrast_is_refused_with_the_ratios(
    staff_client, url, organization, language, words
):
    response = staff_client.post(
        url, form(accent_colour="#777777"), headers={"accept-language": language}
    )
    assert response.status_code == 200
    (message,) = errors(response, "accent_colour")
    for word in words:
        assert word in message
    organization.refresh_from_db()
    assert organization.accent_colour == ""


def test_a_colour_that_passes_just_is_accepted(staff_client, url, organization):
    response = staff_client.post(url, form(accent_colour="#767676"))
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.accent_colour == "#767676"


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("logo.svg", SVG, "image/svg+xml"),
        ("logo.png", SVG, "image/png"),  # a declared type is not trusted
        ("logo.gif", image_bytes("GIF"), "image/gif"),
    ],
)
def test_a_logo_that_is_not_png_jpeg_or_webp_is_refused(
    staff_client, url, organization, name, data, content_type
):
    response = staff_client.post(
        url, form(logo=SimpleUploadedFile(name, data, content_type))
    )
    assert response.status_code == 200
    (message,) = errors(response, "logo")
    assert "PNG, JPEG" in message
    assert not OrganizationLogo.objects.filter(organization=organization).exists()


def test_a_logo_over_200_kb_is_refused_before_it_is_read(staff_client, url):
    big = SimpleUploadedFile("logo.png", b"\x89PNG" + b"\0" * 210_000, "image/png")
    response = staff_client.post(url, form(logo=big))
    assert response.status_code == 200
    (message,) = errors(response, "logo")
    assert "200" in message


def test_the_logo_can_be_cleared(staff_client, url, organization):
    staff_client.post(
        url, form(logo=SimpleUploadedFile("l.png", image_bytes(), "image/png"))
    )
    page = staff_client.get(url).content.decode()
    assert 'name="logo-clear"' in page
    assert f"/brand/{organization.public_id}/logo?v=" in page  # link and preview
    response = staff_client.post(url, form(**{"logo-clear": "on"}))
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.logo_hash == ""
    assert not OrganizationLogo.objects.filter(organization=organization).exists()


def test_saving_without_a_new_file_keeps_the_logo(staff_client, url, organization):
    staff_client.post(
        url, form(logo=SimpleUploadedFile("l.png", image_bytes(), "image/png"))
    )
    organization.refresh_from_db()
    before = organization.logo_hash
    response = staff_client.post(url, form(sender_name="Lilas"))
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.logo_hash == before


def test_another_organizations_branding_is_out_of_reach(
    staff_client, other_organization
):
    url = reverse("admin:clinic_organization_change", args=[other_organization.pk])
    response = staff_client.post(url, form(sender_name="Hijacked"))
    assert response.status_code == 404
    other_organization.refresh_from_db()
    assert other_organization.sender_name == ""
