"""clinic.branding: the WCAG 2.2 contrast check, the logo check, and the
branding built from an organization row."""

import pytest

from django.core.exceptions import ValidationError
from django.utils import translation

from clinic import services
from clinic.branding import (
    DEFAULT_ACCENT,
    DEFAULT_BRANDING,
    INK_DARK,
    INK_LIGHT,
    accent_ink,
    branding_for,
    contrast_ratio,
    logo_inspect,
    relative_luminance,
    sender_address,
    theme_css,
    validate_accent_colour,
)
from clinic.models import OrganizationLogo
from tests.clinic.branding_support import SVG, image_bytes


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),
        ("#767676", "#ffffff", 4.54),
        ("#0b5cad", "#ffffff", 6.67),
        ("#ffffff", "#0b5cad", 6.67),  # order does not matter
        ("#ff0000", "#ffffff", 4.0),
    ],
)
def test_contrast_ratios_match_known_pairs(first, second, ratio):
    assert contrast_ratio(first, second) == pytest.approx(ratio, abs=0.005)


def test_relative_luminance_uses_the_wcag_2_2_formula():
    assert relative_luminance("#000000") == 0
    assert relative_luminance("#ffffff") == pytest.approx(1)
    # Channel 10/255 is below the 0.04045 threshold: the linear segment.
    assert relative_luminance("#0a0a0a") == pytest.approx(10 / 255 / 12.92)


def test_a_colour_that_passes_on_white_is_accepted():
    validate_accent_colour("#767676")
    validate_accent_colour("#0B5CAD")  # either case


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["contrast of 4.48:1", "at least 4.5:1"]),
        ("fr", ["contraste de 4,48:1", "au moins 4,5:1"]),
    ],
)
def test_a_colour_just_under_4_5_is_refused_with_its_ratio_and_the_required_one(
    language, words
):
    with translation.override(language), pytest.raises(ValidationError) as refused:
        validate_accent_colour("#777777")
    (error,) = refused.value.error_list
    assert error.code == "accent_contrast_page"
    with translation.override(language):
        message = refused.value.messages[0]
    for word in words:
        assert word in message


def test_a_failing_ratio_is_never_shown_as_reaching_the_minimum():
    from clinic.branding import _ratio_text

    with translation.override("en"):
        assert _ratio_text(4.4996) == "4.49"
        assert _ratio_text(4.478) == "4.48"
        assert _ratio_text(4.5) == "4.50"


def test_a_colour_in_another_format_is_refused():
    for value in ("0b5cad", "#0b5", "#0b5cadff", "blue", "#0g5cad", ""):
        with pytest.raises(ValidationError) as refused:
            validate_accent_colour(value)
        assert refused.value.error_list[0].code == "accent_format"


def test_button_text_is_white_or_near_black_whichever_contrasts_more():
    assert accent_ink("#0b5cad") == INK_LIGHT
    assert accent_ink("#ffd400") == INK_DARK
    for accent in ("#767676", "#0b5cad", "#6b3fa0", "#0f6e5a"):
        assert contrast_ratio(accent, accent_ink(accent)) >= 4.5


def test_the_theme_sets_both_custom_properties():
    assert theme_css("#6b3fa0") == ":root{--accent:#6b3fa0;--accent-ink:#ffffff}\n"


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_png_jpeg_and_webp_logos_are_accepted(fmt, content_type):
    logo = logo_inspect(image_bytes(fmt, (30, 20)))
    assert (logo.content_type, logo.width, logo.height) == (content_type, 30, 20)


@pytest.mark.parametrize(
    "data",
    [
        SVG,
        image_bytes("GIF"),
        image_bytes("BMP"),
        b"not an image at all",
        image_bytes("PNG")[:-30],  # truncated
        b"",
    ],
    ids=["svg", "gif", "bmp", "text", "truncated-png", "empty"],
)
def test_anything_else_is_refused(data):
    with pytest.raises(ValidationError) as refused:
        logo_inspect(data)
    assert refused.value.error_list[0].code == "logo_format"


def test_a_logo_over_200_kb_or_2000_pixels_is_refused():
    with pytest.raises(ValidationError) as too_big:
        logo_inspect(b"\x89PNG" + b"\0" * 200 * 1024)
    with pytest.raises(ValidationError) as too_large:
        logo_inspect(image_bytes("PNG", (2001, 10)))
    assert too_big.value.error_list[0].code == "logo_too_big"
    assert too_large.value.error_list[0].code == "logo_too_large"


@pytest.mark.django_db
def test_branding_follows_the_organization_row(organization, settings):
    # given: nothing chosen
    assert branding_for(organization).theme_url == ""
    assert branding_for(organization).logo_url == ""
    assert branding_for(organization).sender_name == "Clinique des Lilas"
    assert branding_for(organization).accent == DEFAULT_ACCENT
    # when
    organization.sender_name = "Secrétariat des Lilas"
    organization.accent_colour = "#6b3fa0"
    services.organization_logo_set(organization=organization, data=image_bytes())
    branding = branding_for(organization)
    # then
    key = organization.public_id
    assert branding.name == "Clinique des Lilas"
    assert branding.sender_name == "Secrétariat des Lilas"
    assert branding.theme_url.startswith(f"/brand/{key}/theme.css?v=")
    assert branding.logo_url == f"/brand/{key}/logo?v={organization.logo_hash[:16]}"
    assert branding.logo_absolute_url == f"{settings.SITE_URL}{branding.logo_url}"


def test_no_organization_is_liaison():
    assert branding_for(None) == DEFAULT_BRANDING
    assert DEFAULT_BRANDING.name == "Liaison"
    assert (DEFAULT_BRANDING.logo_url, DEFAULT_BRANDING.theme_url) == ("", "")


@pytest.mark.django_db
def test_a_logo_is_stored_replaced_and_cleared(organization):
    # when
    services.organization_logo_set(organization=organization, data=image_bytes())
    first = organization.logo_hash
    services.organization_logo_set(
        organization=organization, data=image_bytes("WEBP", (12, 12))
    )
    organization.refresh_from_db()
    stored = OrganizationLogo.objects.get(organization=organization)
    # then
    assert organization.logo_hash not in ("", first)
    assert (stored.content_type, stored.width) == ("image/webp", 12)
    assert bytes(stored.image) == image_bytes("WEBP", (12, 12))
    # when
    services.organization_logo_clear(organization=organization)
    organization.refresh_from_db()
    # then
    assert organization.logo_hash == ""
    assert not OrganizationLogo.objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_a_refused_logo_changes_nothing(organization):
    services.organization_logo_set(organization=organization, data=image_bytes())
    before = organization.logo_hash
    with pytest.raises(ValidationError):
        services.organization_logo_set(organization=organization, data=SVG)
    organization.refresh_from_db()
    assert organization.logo_hash == before


def test_the_sender_address_keeps_the_configured_address(settings):
    settings.DEFAULT_FROM_EMAIL = "Liaison <no-reply@liaison.example>"
    assert sender_address("Clinique des Lilas") == (
        "Clinique des Lilas <no-reply@liaison.example>"
    )
    assert sender_address('Dr "Who", Paris') == (
        '"Dr \\"Who\\", Paris" <no-reply@liaison.example>'
    )


@pytest.mark.django_db
def test_a_sender_name_with_a_line_break_is_refused(organization):
    organization.sender_name = "Lilas\r\nBcc: everyone@example.org"
    with pytest.raises(ValidationError) as refused:
        organization.full_clean()
    assert "sender_name" in refused.value.message_dict
