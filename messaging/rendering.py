"""Rendering of message templates: ``{{ variable }}`` and nothing else.

No tags, no filters, no attribute access: a template cannot reach beyond the
plain values it is given. HTML bodies escape every value.
"""

import re
from collections.abc import Mapping

from django.utils.html import escape

from messaging.variables import VARIABLES

PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
# Anything that looks like template syntax but is not a plain placeholder.
STRAY_SYNTAX = re.compile(r"\{[{%#]|[}%#]\}")


class TemplateContentError(ValueError):
    pass


def variables_used(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text or ""))


def check_syntax(text: str) -> None:
    """Raise TemplateContentError for unknown variables or unsupported syntax."""
    unknown = sorted(variables_used(text) - VARIABLES.keys())
    if unknown:
        raise TemplateContentError(f"Unknown variable: {', '.join(unknown)}.")
    if STRAY_SYNTAX.search(PLACEHOLDER.sub("", text or "")):
        raise TemplateContentError(
            "Only {{ variable }} placeholders are allowed (no tags, filters or comments)."
        )


def render(text: str, context: Mapping[str, object], *, html: bool = False) -> str:
    """Replace each placeholder with its value from ``context`` (missing → empty).

    Values must be plain (str, int, float); anything else raises TypeError, so a
    model object can never be rendered by accident.
    """

    def value(match: re.Match) -> str:
        item = context.get(match.group(1), "")
        if not isinstance(item, str | int | float):
            raise TypeError(
                f"Template values must be plain text or numbers: {match.group(1)}"
            )
        return escape(str(item)) if html else str(item)

    return PLACEHOLDER.sub(value, text or "")


GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
# Typography that looks the same on a phone but is not in GSM-7: one of them
# turns a 160-character SMS into three 70-character UCS-2 segments. French
# text is full of them (’ « » and the non-breaking spaces before : ; ? !).
SMS_PLAIN = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u00a0": " ",
        "\u202f": " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def sms_text(text: str) -> str:
    """``text`` with look-alike typography replaced by GSM-7 characters."""
    return text.translate(SMS_PLAIN)


def sms_segments(text: str) -> dict:
    """Encoding and segment count of an SMS, as carriers bill it.

    One character outside GSM-7 (an emoji, a curly quote, a non-breaking space)
    switches the whole message to UCS-2, which fits 70 characters per segment
    instead of 160 and so costs about twice as much.
    """
    gsm = all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)
    if gsm:
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        length = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, multi = 70, 67
    segments = 1 if length <= single else -(-length // multi)
    return {
        "encoding": "GSM-7" if gsm else "UCS-2",
        "length": length,
        "segments": segments,
        "per_segment": single if segments == 1 else multi,
    }
