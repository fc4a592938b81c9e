"""Voice call-outs through Sinch's Callouts API (``ttsCallout``).

``POST {base}/calling/v1/callouts`` with HTTP basic auth (application key,
application secret) and ``{"method": "ttsCallout", "ttsCallout": {…}}``;
the answer is ``{"callId": …}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from messaging.backends.base import DeliveryError
from messaging.backends.http import HttpBackend, delivery_reference
from messaging.backends.senders import Identity, Sender
from messaging.backends.voice import tts_language

if TYPE_CHECKING:
    from messaging.models import Delivery


class VoiceBackend(HttpBackend):
    """Calls the patient and reads ``delivery.body``; returns Sinch's call id.

    OPTIONS: ``application_key``, ``application_secret`` (the platform's
    voice application: identities carry no voice credentials yet),
    ``base_url`` (default https://calling.api.sinch.com), timeouts. The caller
    id shown (``cli``) is the number of the organization's Sinch identity;
    an organization without one fails with ``no_sender``. A ``ttsCallout``
    only reads text: keypad answers and call events need a ``customCallout``
    with the application's callback URL (set in the Sinch dashboard), not
    done yet.

    ``reconcile`` checks nothing: Sinch documents no way to find a callout
    by our reference, so an ``unknown`` call stays for staff to look at.
    Raises DeliveryError as the SMS backends do (code from ``errorCode``).
    """

    provider = "sinch"
    default_base_url = "https://calling.api.sinch.com"
    required = {
        "application_key": "SINCH_APPLICATION_KEY",
        "application_secret": "SINCH_APPLICATION_SECRET",
    }

    def sender_from(self, identity: Identity) -> Sender:
        return Sender(
            phone_number=identity.phone_number,
            credentials=(
                self.options["application_key"],
                self.options["application_secret"],
            ),
        )

    def client_options(self, sender: Sender) -> dict[str, Any]:
        return {"auth": sender.credentials}

    def send(self, delivery: Delivery) -> str:
        sender = self.sender(delivery)
        callout: dict[str, Any] = {
            "destination": {"type": "number", "endpoint": delivery.address},
            "locale": tts_language(delivery.message.language),
            "text": delivery.body,
            "custom": delivery_reference(delivery.pk),
            "cli": sender.phone_number,
        }
        response = self.client(sender).request(
            "POST",
            "/calling/v1/callouts",
            operation="callouts.create",
            delivery_id=delivery.pk,
            json={"method": "ttsCallout", "ttsCallout": callout},
        )
        try:
            call_id = response.json().get("callId")
        except (ValueError, AttributeError):
            call_id = None
        if not call_id:
            raise DeliveryError("sinch: no call id", unknown=True, code="no_id")
        return str(call_id)
