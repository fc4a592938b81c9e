"""Email through Django's email backends (SMTP, django-anymail, console…)."""

from email.utils import make_msgid

from django.conf import settings
from django.core import mail

from messaging.backends.base import BaseBackend, DeliveryError, SendResult


class Backend(BaseBackend):
    provider = "email"

    def send_many(self, deliveries) -> list[SendResult]:
        results = []
        # One connection for the whole batch: SMTP handshakes cost more than mail.
        with mail.get_connection(fail_silently=False) as connection:
            for delivery in deliveries:
                if not self.gate.admits(delivery):
                    results.append(self.not_admitted(delivery))
                    continue
                message_id = make_msgid(domain="liaison")
                headers = {
                    "Message-ID": message_id,
                    **getattr(delivery, "email_headers", {}),
                }
                message = mail.EmailMultiAlternatives(
                    subject=delivery.subject,
                    body=delivery.body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[delivery.address],
                    headers=headers,
                    connection=connection,
                )
                if delivery.body_html:
                    message.attach_alternative(delivery.body_html, "text/html")
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
