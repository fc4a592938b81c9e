"""Secrets in messages: marked when the text is rendered, never found later.

A security message carries a credential (a one-time code, a single-use
link). Its caller names it as a secret variable (``variables.SECRET_VARIABLES``)
and gives its value in ``message_send(secrets=...)``, never in ``context``
(which is stored for fallbacks). Rendering then produces two texts: the one
every stored ``body`` holds and every screen shows, with ``MASK`` in the
secret's place, and the real one, kept apart (``secret_body``) only for the
backend, and erased once the delivery is final or the secret expires
(``messaging.services.redaction``).
"""

from __future__ import annotations

from collections.abc import Mapping

from messaging.rendering import PLACEHOLDER, render
from messaging.variables import SECRET_VARIABLES

# What staff, the API and exports see where the secret was.
MASK = "••••••"


class SecretError(ValueError):
    """A secret that is not a declared secret variable, or not plain text."""


def secrets_check(secrets: Mapping[str, object]) -> dict[str, str]:
    """``secrets`` as plain strings; raises SecretError for a name that is
    not a secret variable or an empty value."""
    unknown = sorted(set(secrets) - SECRET_VARIABLES)
    if unknown:
        raise SecretError(f"Not a secret variable: {', '.join(unknown)}.")
    values = {}
    for name, value in secrets.items():
        if not isinstance(value, str | int) or str(value) == "":
            raise SecretError(f"Secret {name} must be non-empty text.")
        values[name] = str(value)
    return values


def masked(secrets: Mapping[str, str]) -> dict[str, str]:
    """The context that renders ``MASK`` for each secret."""
    return dict.fromkeys(secrets, MASK)


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with the placeholders of ``values`` replaced, others untouched:
    free text (written by the system) is not a template, only its secret
    slots are filled."""

    def value(match):
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return PLACEHOLDER.sub(value, text or "")


def render_both(
    text: str, context: Mapping[str, object], secrets: Mapping[str, str], **options
) -> tuple[str, str]:
    """(masked, real) renderings of a template text; real is "" when the text
    holds no secret, so nothing is kept apart for it."""
    shown = render(text, {**context, **masked(secrets)}, **options)
    if not secrets:
        return shown, ""
    real = render(text, {**context, **secrets}, **options)
    return shown, real if real != shown else ""


def reveal(deliveries) -> None:
    """Put the real texts in the claimed ``deliveries`` (in memory only) for
    their backend, and for matching what a provider lists when reconciling;
    ``shown_body`` keeps the masked text. Writes name their columns, so the
    real text is never saved into ``body``."""
    for delivery in deliveries:
        if delivery.secret_body:
            delivery.shown_body = delivery.body
            delivery.body = delivery.secret_body
        if delivery.secret_body_html:
            delivery.body_html = delivery.secret_body_html
