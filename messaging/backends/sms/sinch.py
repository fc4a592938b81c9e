"""SMS through Sinch's SMS REST API, batches endpoint
(``POST {base}/xms/v1/{service_plan_id}/batches``), with a bearer token.

One batch per delivery, with ``client_reference`` = ``liaison-<delivery id>``
so a batch the provider may have accepted can be found again, and
``delivery_report: per_recipient`` so Sinch calls back with one
``recipient_delivery_report_sms`` per message.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from messaging.backends.base import DeliveryError
from messaging.backends.http import HttpBackend, delivery_reference
from messaging.backends.senders import Identity, Sender
from messaging.backends.sms import check_sms_length

if TYPE_CHECKING:
    from messaging.models import Delivery

# Batches are listed from this long before the delivery was planned.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def sinch_signature(secret: str, body: bytes, nonce: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, raw body + "." + nonce + "." + timestamp)).

    The scheme Sinch documents for its Conversation API callbacks
    (``x-sinch-webhook-signature``, ``-nonce``, ``-timestamp`` headers). The
    SMS REST API documents basic auth, OAuth 2.0 or mTLS for callbacks
    instead, set up by Sinch on request: ask for HMAC signing with this
    scheme, or put a signing proxy in front.
    """
    message = body + b"." + nonce.encode() + b"." + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class SmsBackend(HttpBackend):
    """SMS through Sinch batches; ``send`` returns the batch id.

    OPTIONS (the platform's account): ``service_plan_id``, ``api_token``,
    ``webhook_secret`` (checks callbacks), ``base_url`` (default
    https://us.sms.api.sinch.com; EU accounts use https://eu.sms.api.sinch.com),
    ``status_callback_url`` (default ``{SITE_URL}/webhooks/sinch/status``),
    ``connect_timeout`` / ``read_timeout``.

    Each batch leaves ``from`` the number of the organization's Sinch
    identity, on its service plan with its API token (the platform's when it
    names none). Raises DeliveryError: permanent for a 4xx (code from Sinch's
    ``{"code": …, "text": …}``) and for an organization without a Sinch
    identity (``no_sender``), transient for 429/5xx/connection errors,
    ``unknown`` when Sinch stopped answering after the request was sent.
    """

    provider = "sinch"
    default_base_url = "https://us.sms.api.sinch.com"
    required = {
        "service_plan_id": "SINCH_SERVICE_PLAN_ID",
        "api_token": "SINCH_API_TOKEN",
        "webhook_secret": "SINCH_WEBHOOK_SECRET",
    }

    def sender_from(self, identity: Identity) -> Sender:
        return Sender(
            phone_number=identity.phone_number,
            account_id=identity.account_id or self.options["service_plan_id"],
            credentials=("", identity.secret or self.options["api_token"]),
        )

    def client_options(self, sender: Sender) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {sender.credentials[1]}"}}

    def batches_path(self, sender: Sender) -> str:
        return f"/xms/v1/{sender.account_id}/batches"

    def send(self, delivery: Delivery) -> str:
        # Sinch's batches API takes at most 2,000 characters in a body.
        check_sms_length(delivery.body, provider=self.provider, limit=2000)
        sender = self.sender(delivery)
        payload = {
            "from": sender.phone_number,
            "to": [delivery.address],
            "body": delivery.body,
            "client_reference": delivery_reference(delivery.pk),
            "delivery_report": "per_recipient",
            "callback_url": self.status_callback_url,
        }
        response = self.client(sender).request(
            "POST",
            self.batches_path(sender),
            operation="batches.create",
            delivery_id=delivery.pk,
            json=payload,
        )
        try:
            batch_id = response.json().get("id")
        except (ValueError, AttributeError):
            batch_id = None
        if not batch_id:
            raise DeliveryError("sinch: no batch id", unknown=True, code="no_id")
        return str(batch_id)

    def reply(self, *, organization_id: int, to_number: str, text: str) -> None:
        """Send a keyword's required reply (STOP, HELP…) outside any delivery,
        from the Sinch identity of ``organization_id`` (the number the patient
        texted). Sinch takes no reply in the answer to an inbound callback,
        unlike Twilio's TwiML. Raises DeliveryError (``no_sender`` when the
        organization has no Sinch identity)."""
        sender = self.senders_for([organization_id])[organization_id]
        if isinstance(sender, DeliveryError):
            raise sender
        with self.session([sender]):
            self.client(sender).request(
                "POST",
                self.batches_path(sender),
                operation="batches.create-reply",
                json={"from": sender.phone_number, "to": [to_number], "body": text},
            )

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """Find each delivery's batch by its ``client_reference``
        (``GET …/batches?client_reference=liaison-<id>&start_date=…``) on its
        organization's service plan.

        ``start_date`` is the delivery's creation time (Sinch lists the last
        24 hours by default); the filter is exact, so only our batch matches.
        Deliveries whose lookup failed, or whose organization has no usable
        identity now, are left out (not checked).
        """
        found: dict[int, str | None] = {}
        unsendable = self.senders_load(deliveries)
        with self.session():
            for delivery in deliveries:
                if delivery.pk in unsendable:
                    continue
                sender = self.sender(delivery)
                since = (delivery.created_at - CLOCK_SKEW).astimezone(datetime.UTC)
                try:
                    response = self.client(sender).request(
                        "GET",
                        self.batches_path(sender),
                        operation="batches.list",
                        delivery_id=delivery.pk,
                        params={
                            "client_reference": delivery_reference(delivery.pk),
                            "start_date": since.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        },
                    )
                    batches = response.json().get("batches") or []
                except (DeliveryError, ValueError, AttributeError):
                    continue
                found[delivery.pk] = next(
                    (str(b["id"]) for b in batches if b.get("id")), None
                )
        return found
