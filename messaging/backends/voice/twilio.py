"""Voice call-outs through Twilio's Calls API, with the TwiML inline.

The call reads the delivery's text in the patient's language and listens
for one key (1 confirm, 2 cancel) posted to ``/webhooks/twilio/voice/keypad``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings

from messaging.backends.base import DeliveryError
from messaging.backends.sms.twilio import TwilioBackend
from messaging.backends.voice import tts_language

if TYPE_CHECKING:
    from messaging.models import Delivery

# Twilio refuses a ``Twiml`` parameter longer than this; a longer call text
# is a template mistake, not something a retry can fix.
TWIML_MAX_LENGTH = 4000


def call_twiml(*, text: str, language: str) -> str:
    """The call's TwiML. ``<Say>`` sits inside ``<Gather>`` so a key pressed
    while the text is read is heard, instead of only after it."""
    keypad = quoteattr(f"{settings.SITE_URL}/webhooks/twilio/voice/keypad")
    return (
        "<Response>"
        f'<Gather numDigits="1" method="POST" action={keypad}>'
        f"<Say language={quoteattr(tts_language(language))}>{escape(text)}</Say>"
        "</Gather>"
        "</Response>"
    )


class VoiceBackend(TwilioBackend):
    """Calls the patient and reads ``delivery.body``; returns the Call SID (CA…).

    OPTIONS as Twilio SMS (``account_sid``, ``auth_token``, ``base_url``,
    ``status_callback_url``, timeouts); the call comes from the number of the
    organization's Twilio identity (a Messaging Service does not place
    calls). Raises DeliveryError as the SMS backend does, and permanently
    when the TwiML is too long.
    """

    resource = "Calls"

    def send(self, delivery: Delivery) -> str:
        twiml = call_twiml(text=delivery.body, language=delivery.message.language)
        if len(twiml) > TWIML_MAX_LENGTH:
            raise DeliveryError(
                "twilio: call text too long", permanent=True, code="twiml_too_long"
            )
        return self.create(
            delivery,
            {
                "To": delivery.address,
                "From": self.sender(delivery).phone_number,
                "Twiml": twiml,
                "StatusCallback": self.status_callback_url,
            },
        )
