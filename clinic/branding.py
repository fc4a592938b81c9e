"""A clinic's branding: its name, logo, accent colour and sender name.

Pure helpers (no queries): the WCAG 2.2 contrast check the accent colour must
pass, the logo check (PNG, JPEG or WebP, decoded to be sure), and the
``Branding`` that templates read (``portal.context_processors.branding``), the
theme stylesheet and the emails' From name are built from one organization
row. The logo's bytes live in ``OrganizationLogo``, read only by its view;
the organization row keeps the hash that versions its URL
(docs/architecture.md, "Clinic branding").
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

DEFAULT_NAME = "Liaison"
DEFAULT_ACCENT = "#0b5cad"  # Liaison's own blue (static/css/liaison.css)
PAGE_BACKGROUND = "#ffffff"
# The text colours an accent button may take: whichever contrasts best.
INK_LIGHT = "#ffffff"
INK_DARK = "#111111"
# WCAG 2.2 success criterion 1.4.3 (AA), normal-size text: links in the
# accent colour on the page, and text on accent buttons.
MIN_CONTRAST = 4.5

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

LOGO_MAX_BYTES = 200 * 1024
LOGO_MAX_SIDE = 2000  # pixels, each side: checked before decoding
# What Pillow calls the format → the type the logo is served with. MPO is
# the JPEG of phone cameras (a JPEG first image). No SVG: it can carry script.
LOGO_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
}


# --- Contrast ------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of ``#rrggbb`` (0 black, 1 white)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    lighter, darker = sorted(
        (relative_luminance(first), relative_luminance(second)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def accent_ink(accent: str) -> str:
    """The text colour for an accent background: white or near-black,
    whichever contrasts more."""
    light = contrast_ratio(accent, INK_LIGHT)
    return INK_LIGHT if light >= contrast_ratio(accent, INK_DARK) else INK_DARK


def _ratio_text(ratio: float) -> str:
    """Two decimals, as contrast checkers show it; a failing ratio is never
    shown as reaching the minimum (4.4996 reads 4.49, not 4.50)."""
    shown = round(ratio, 2)
    if ratio < MIN_CONTRAST <= shown:
        shown = MIN_CONTRAST - 0.01
    return number_format(shown, 2)


def validate_accent_colour(value: str) -> None:
    """``#rrggbb`` that reaches MIN_CONTRAST as link text on the page and
    under its own button text (``accent_ink``)."""
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError(
            _("Give the colour as # followed by six hexadecimal digits, e.g. #0b5cad."),
            code="accent_format",
        )
    required = number_format(MIN_CONTRAST, 1)
    on_page = contrast_ratio(value, PAGE_BACKGROUND)
    if on_page < MIN_CONTRAST:
        raise ValidationError(
            _(
                "This colour has a contrast of %(ratio)s:1 with the white page; "
                "links need at least %(required)s:1 (WCAG 2.2 AA). Choose a darker "
                "colour."
            ),
            code="accent_contrast_page",
            params={"ratio": _ratio_text(on_page), "required": required},
        )
    under_ink = contrast_ratio(value, accent_ink(value))
    if under_ink < MIN_CONTRAST:
        raise ValidationError(
            _(
                "Button text on this colour has a contrast of %(ratio)s:1; it needs "
                "at least %(required)s:1 (WCAG 2.2 AA)."
            ),
            code="accent_contrast_ink",
            params={"ratio": _ratio_text(under_ink), "required": required},
        )


def validate_sender_name(value: str) -> None:
    """No line breaks or control characters: the name goes into a mail header."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(
            _("The sender name cannot contain line breaks or control characters."),
            code="sender_name_control",
        )


# --- Logo -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogoImage:
    content_type: str
    width: int
    height: int
    sha256: str


def logo_check_size(size: int) -> None:
    """ValidationError for a logo of more than LOGO_MAX_BYTES bytes."""
    if size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo is %(size)s KB; at most %(max)s KB is accepted."),
            code="logo_too_big",
            params={"size": math.ceil(size / 1024), "max": LOGO_MAX_BYTES // 1024},
        )


def logo_inspect(data: bytes) -> LogoImage:
    """The logo's type and size, found by decoding it; ValidationError
    unless it is a PNG, JPEG or WebP image of at most LOGO_MAX_BYTES and
    LOGO_MAX_SIDE pixels a side. The declared name and type are not trusted."""
    from PIL import Image

    logo_check_size(len(data))
    not_an_image = ValidationError(
        _("The logo must be a PNG, JPEG or WebP image (SVG is not accepted)."),
        code="logo_format",
    )
    formats = ["PNG", "JPEG", "WEBP"]  # MPO comes through the JPEG opener
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            kind = image.format
            width, height = image.size
            if kind not in LOGO_FORMATS:
                raise not_an_image
            if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
                raise ValidationError(
                    _(
                        "The logo is %(width)s×%(height)s pixels; at most "
                        "%(max)s pixels a side is accepted."
                    ),
                    code="logo_too_large",
                    params={"width": width, "height": height, "max": LOGO_MAX_SIDE},
                )
            image.verify()  # structure and checksums
        with Image.open(io.BytesIO(data), formats=formats) as image:
            image.load()  # every pixel decodes
    except ValidationError:
        raise
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise not_an_image from exc
    return LogoImage(
        content_type=LOGO_FORMATS[kind],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --- What pages and emails read -------------------------------------------------


def theme_css(accent: str) -> str:
    """The clinic's stylesheet: the two custom properties it overrides."""
    return f":root{{--accent:{accent};--accent-ink:{accent_ink(accent)}}}\n"


def theme_version(accent: str) -> str:
    return hashlib.sha256(theme_css(accent).encode()).hexdigest()[:16]


def logo_version(logo_hash: str) -> str:
    return logo_hash[:16]


@dataclass(frozen=True)
class Branding:
    """What templates read as ``branding``."""

    name: str = DEFAULT_NAME
    logo_url: str = ""  # relative to the site; "" without a logo
    theme_url: str = ""  # "" with Liaison's default accent
    sender_name: str = DEFAULT_NAME
    accent: str = DEFAULT_ACCENT

    @property
    def accent_ink(self) -> str:
        return accent_ink(self.accent)

    @property
    def logo_absolute_url(self) -> str:
        """The logo's address for an email (from SITE_URL), or ""."""
        return f"{settings.SITE_URL}{self.logo_url}" if self.logo_url else ""


DEFAULT_BRANDING = Branding()


def branding_for(organization) -> Branding:
    """The branding of ``organization`` (an Organization, or None for
    Liaison's own). Reads the row only: no query."""
    if organization is None:
        return DEFAULT_BRANDING
    key = str(organization.public_id)
    logo_url = theme_url = ""
    if organization.logo_hash:
        version = logo_version(organization.logo_hash)
        logo_url = f"{reverse('clinic:brand-logo', args=[key])}?v={version}"
    accent = (organization.accent_colour or DEFAULT_ACCENT).lower()
    if organization.accent_colour:
        version = theme_version(accent)
        theme_url = f"{reverse('clinic:brand-theme', args=[key])}?v={version}"
    return Branding(
        name=organization.name,
        logo_url=logo_url,
        theme_url=theme_url,
        sender_name=organization.sender_name or organization.name,
        accent=accent,
    )


def sender_address(sender_name: str) -> str:
    """The From header: ``sender_name`` with DEFAULT_FROM_EMAIL's address,
    quoted where the name needs it. Not ``email.utils.formataddr``: it
    encodes an accented name at once (``=?utf-8?q?…``), and an email
    provider's API (Anymail) would show that as the name; Django encodes
    the header itself when it writes the mail."""
    _default_name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return str(Address(display_name=sender_name, addr_spec=address))
