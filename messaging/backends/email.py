"""Email through Django's email backends (SMTP, django-anymail, console…).

Each email comes from its clinic: the From name is the organization's sender
name (``"Clinique des Lilas" <DEFAULT_FROM_EMAIL's address>``), and an HTML
part opens with the clinic's name and logo (clinic/branding.py). Nothing of
the message is added: a confidential notice stays a notice.
"""

import re
from email.utils import make_msgid

from django.core import mail
from django.utils.html import escape

from clinic.branding import Branding, branding_for, sender_address
from messaging.backends.base import BaseBackend, DeliveryError, SendResult

BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def branded_html(body_html: str, branding: Branding) -> str:
    """``body_html`` headed by the clinic's name (and logo, by its absolute
    URL): inside its ``<body>`` when it is a whole document, else wrapped in
    one. Inline styles: mail clients ignore stylesheets."""
    logo = ""
    if branding.logo_url:
        logo = (
            f'<img src="{escape(branding.logo_absolute_url)}" alt="" height="40" '
            'style="height:40px;width:auto;vertical-align:middle;margin-right:8px">'
        )
    header = (
        f'<div style="border-top:4px solid {escape(branding.accent)};'
        'padding:12px 0;margin-bottom:16px">'
        f'{logo}<strong style="font-size:18px;vertical-align:middle">'
        f"{escape(branding.name)}</strong></div>"
    )
    found = BODY_TAG.search(body_html)
    if found:
        return body_html[: found.end()] + header + body_html[found.end() :]
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f"{header}{body_html}</body></html>"
    )


def _organization(delivery):
    # Loaded with the claim (message__patient__organization): no query.
    return delivery.message.patient.organization


class Backend(BaseBackend):
    provider = "email"

    def send_many(self, deliveries) -> list[SendResult]:
        results = []
        brandings: dict[int, Branding] = {}
        # One connection for the whole batch: SMTP handshakes cost more than mail.
        with mail.get_connection(fail_silently=False) as connection:
            for delivery in deliveries:
                if not self.gate.admits(delivery):
                    results.append(self.not_admitted(delivery))
                    continue
                organization = _organization(delivery)
                branding = brandings.get(organization.pk)
                if branding is None:
                    branding = brandings[organization.pk] = branding_for(organization)
                message_id = make_msgid(domain="liaison")
                headers = {
                    "Message-ID": message_id,
                    **getattr(delivery, "email_headers", {}),
                }
                message = mail.EmailMultiAlternatives(
                    subject=delivery.subject,
                    body=delivery.body,
                    from_email=sender_address(branding.sender_name),
                    to=[delivery.address],
                    headers=headers,
                    connection=connection,
                )
                if delivery.body_html:
                    message.attach_alternative(
                        branded_html(delivery.body_html, branding), "text/html"
                    )
                try:
                    message.send()
                except mail.BadHeaderError as exc:
                    error = DeliveryError(type(exc).__name__, permanent=True)
                    results.append(SendResult(delivery.pk, self.provider, "", error))
                except OSError as exc:  # SMTP and connection errors: try again later
                    error = DeliveryError(type(exc).__name__)
                    results.append(SendResult(delivery.pk, self.provider, "", error))
                else:
                    # An Anymail backend reports the provider's own id.
                    status = getattr(message, "anymail_status", None)
                    provider_id = (status and status.message_id) or message_id
                    results.append(
                        SendResult(delivery.pk, self.provider, str(provider_id))
                    )
        return results
