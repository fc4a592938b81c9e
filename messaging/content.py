"""What a message becomes on each channel: the address, the text, the notice.

Pure helpers used by ``messaging.services``: no writes here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from clinic.models import Patient
from consent.vocabulary import Channel
from messaging.models import Sensitivity, Template
from messaging.redaction import masked, render_both
from messaging.rendering import render
from messaging.variables import SECRET_VARIABLES, VARIABLES


class MessageContentError(ValueError):
    """The content asked for cannot be sent (unknown variable, no text…)."""


@dataclass
class Content:
    subject: str
    body: str  # secrets masked: what is stored and shown (messaging.redaction)
    body_html: str = ""
    confidential: bool = False
    # The real text, when it holds a secret: for the backend only.
    secret_body: str = ""
    secret_body_html: str = ""


def portal_link() -> str:
    return f"{settings.SITE_URL}/portal/"


def delivery_address(patient: Patient, channel: str) -> str:
    if channel == Channel.EMAIL:
        return patient.email
    if channel in (Channel.SMS, Channel.VOICE):
        return str(patient.phone or "")
    return ""


def context_for(patient: Patient, context: dict | None) -> dict[str, object]:
    """The template context: the caller's plain values plus the patient's own.

    Raises MessageContentError for an unknown variable or a value that is not
    plain text or a number.
    """
    context = dict(context or {})
    unknown = sorted(set(context) - VARIABLES.keys())
    if unknown:
        raise MessageContentError(f"Unknown template variable: {', '.join(unknown)}.")
    # The context is stored with the message (for fallbacks): a secret given
    # there would be kept and shown. It goes in ``secrets``.
    secret = sorted(set(context) & SECRET_VARIABLES)
    if secret:
        raise MessageContentError(
            f"Variable {', '.join(secret)} is a secret: give it in secrets."
        )
    for name, value in context.items():
        if not isinstance(value, str | int | float):
            raise MessageContentError(
                f"Variable {name} must be plain text or a number."
            )
    return {
        "patient_first_name": patient.given_name,
        "patient_last_name": patient.family_name,
        "organization_name": patient.organization.name,
        "portal_link": portal_link(),
        **context,
    }


def text_email_subject(*, organization_name: str, language: str) -> str:
    """The subject of an email whose free text came without one: who it is
    from and nothing of what it says, since a subject shows on lock screens
    and in mail lists (an empty one reads as spam and hides the sender)."""
    with translation.override(language):
        return _("Message from %(organization)s") % {"organization": organization_name}


def content_hash(topic_id: int, subject: str, body: str) -> str:
    return hashlib.sha256(f"{topic_id}\x00{subject}\x00{body}".encode()).hexdigest()[
        :32
    ]


def pick_templates(
    templates: list[Template], language: str, fallback: str
) -> dict[str, Template]:
    """channel → template in ``language``, else in the organization's language."""
    chosen: dict[str, Template] = {}
    for wanted in (language, fallback):
        for template in templates:
            if template.language == wanted:
                chosen.setdefault(template.channel, template)
    return chosen


def render_template(
    template: Template, context: dict, secrets: dict[str, str] | None = None
) -> Content:
    """The template rendered; with ``secrets``, ``body`` and ``body_html``
    show them masked and the real texts go to ``secret_body*``. A secret is
    never put in a subject (subjects are listed everywhere)."""
    secrets = secrets or {}
    body, secret_body = render_both(template.body, context, secrets)
    body_html, secret_body_html = render_both(
        template.body_html, context, secrets, html=True
    )
    return Content(
        subject=render(template.subject, {**context, **masked(secrets)}),
        body=body,
        body_html=body_html,
        confidential=template.sensitivity == Sensitivity.CONFIDENTIAL,
        secret_body=secret_body,
        secret_body_html=secret_body_html,
    )


def confidential_notice(
    *, organization_name: str, code: str, channel: str, language: str
) -> Content:
    """What email, SMS and voice carry for a confidential message: no content,
    a link to the secure inbox and the code that proves who sent it."""
    link = portal_link()
    with translation.override(language):
        values = {"organization": organization_name, "link": link, "code": code}
        if channel == Channel.SMS:
            body = (
                _(
                    "%(organization)s: you have a new secure message. Read it in your "
                    "patient portal: %(link)s (code %(code)s)"
                )
                % values
            )
            return Content(subject="", body=body, confidential=True)
        if channel == Channel.VOICE:
            spelled = " ".join(code)
            body = _(
                "Hello, this is %(organization)s. You have a new secure message in "
                "your patient portal. Its verification code is %(code)s."
            ) % (values | {"code": spelled})
            return Content(subject="", body=body, confidential=True)
        subject = _("New secure message from %(organization)s") % values
        body = _(
            "You have a new secure message from %(organization)s.\n\n"
            "For your privacy it is only shown in your patient portal: %(link)s\n\n"
            "Verification code: %(code)s (check it at %(verify)s)"
        ) % (values | {"verify": f"{settings.SITE_URL}/verify/"})
        return Content(subject=subject, body=body, confidential=True)
