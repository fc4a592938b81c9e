"""SMS through Twilio's Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``).

Requests are form-encoded with HTTP basic auth (account SID, auth token);
errors come back as JSON ``{"code": 21211, "message": …}`` and Twilio signs
its webhooks with ``X-Twilio-Signature`` (checked in ``messaging.webhooks``
by Twilio's own ``RequestValidator``).
"""

from __future__ import annotations

import datetime
import email.utils
from typing import TYPE_CHECKING, Any

import httpx

from messaging.backends.base import DeliveryError
from messaging.backends.http import HttpBackend
from messaging.backends.senders import Identity, Sender
from messaging.backends.sms import check_sms_length

if TYPE_CHECKING:
    from messaging.models import Delivery

# A provider clock a little behind ours must not hide a message it accepted.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def twilio_date(value: str | None) -> datetime.datetime | None:
    """Twilio's RFC 2822 dates ("Tue, 31 Aug 2010 20:36:28 +0000")."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


class TwilioBackend(HttpBackend):
    """What Twilio's SMS and voice backends share: account, auth, lookups.

    OPTIONS (the platform's account): ``account_sid``, ``auth_token``,
    ``base_url`` (default https://api.twilio.com), ``status_callback_url``
    (default ``{SITE_URL}/webhooks/twilio/status``), ``connect_timeout`` /
    ``read_timeout`` in seconds (5 and 10).

    Each delivery leaves from its organization's Twilio identity: its number
    (or, for SMS, its Messaging Service), on its account. An identity with
    its own auth token authenticates as its account; one without uses the
    platform's credentials on its account (a subaccount of the platform's)
    or on the platform's account when it names none.
    """

    provider = "twilio"
    default_base_url = "https://api.twilio.com"
    required = {
        "account_sid": "TWILIO_ACCOUNT_SID",
        "auth_token": "TWILIO_AUTH_TOKEN",
    }
    resource = ""  # "Messages" or "Calls"

    def sender_from(self, identity: Identity) -> Sender:
        if identity.secret:
            credentials = (identity.account_id, identity.secret)
        else:
            credentials = (self.options["account_sid"], self.options["auth_token"])
        return Sender(
            phone_number=identity.phone_number,
            messaging_service_sid=identity.messaging_service_sid,
            account_id=identity.account_id or self.options["account_sid"],
            credentials=credentials,
        )

    def client_options(self, sender: Sender) -> dict[str, Any]:
        return {"auth": sender.credentials}

    def path(self, sender: Sender, suffix: str) -> str:
        return f"/2010-04-01/Accounts/{sender.account_id}/{suffix}"

    def create(self, delivery: Delivery, data: dict[str, str]) -> str:
        """POST one resource for the delivery's sender and return its SID;
        raises DeliveryError."""
        sender = self.sender(delivery)
        response = self.client(sender).request(
            "POST",
            self.path(sender, f"{self.resource}.json"),
            operation=f"{self.resource.lower()}.create",
            delivery_id=delivery.pk,
            data=data,
        )
        return self.sid(response)

    def sid(self, response: httpx.Response) -> str:
        try:
            sid = response.json().get("sid")
        except (ValueError, AttributeError):
            sid = None
        if not sid:
            # Accepted, but we cannot tell which resource it created.
            raise DeliveryError(
                f"{self.provider}: no sid in the answer", unknown=True, code="no_id"
            )
        return str(sid)

    def matches(self, item: dict[str, Any], delivery: Delivery) -> bool:
        created = twilio_date(item.get("date_created"))
        return created is not None and created >= delivery.created_at - CLOCK_SKEW

    def list_filters(self, delivery: Delivery) -> dict[str, str]:
        return {
            "To": delivery.address,
            "From": self.sender(delivery).phone_number,
            "PageSize": "50",
        }

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """List the resources sent to each delivery's number from its
        organization's sender (newest first, filtered by To and From, on the
        sender's account) and take the first created after the delivery that
        ``matches`` it. Twilio keeps no reference of ours, so an identical
        resource sent to the same number in that window would match too;
        deliveries whose lookup failed, or whose organization has no usable
        identity now, are left out (not checked)."""
        found: dict[int, str | None] = {}
        key = self.resource.lower()
        unsendable = self.senders_load(deliveries)
        with self.session():
            for delivery in deliveries:
                if delivery.pk in unsendable:
                    continue
                sender = self.sender(delivery)
                try:
                    response = self.client(sender).request(
                        "GET",
                        self.path(sender, f"{self.resource}.json"),
                        operation=f"{key}.list",
                        delivery_id=delivery.pk,
                        params=self.list_filters(delivery),
                    )
                    items = response.json().get(key) or []
                except (DeliveryError, ValueError, AttributeError):
                    continue
                found[delivery.pk] = next(
                    (
                        str(i["sid"])
                        for i in items
                        if i.get("sid") and self.matches(i, delivery)
                    ),
                    None,
                )
        return found


class SmsBackend(TwilioBackend):
    """SMS through Twilio Messages; ``send`` returns the Message SID (SM…).

    Sent ``From`` the organization's number, or with its
    ``MessagingServiceSid`` when its identity names one. Raises
    DeliveryError: permanent for a 4xx (21211 invalid number, 21610
    recipient replied STOP…) and for an organization without a Twilio
    identity (``no_sender``), transient for 429/5xx/connection errors,
    ``unknown`` when Twilio stopped answering after the request was sent.
    """

    resource = "Messages"

    def send(self, delivery: Delivery) -> str:
        # Twilio refuses message bodies over 1,600 characters (error 21617).
        check_sms_length(delivery.body, provider=self.provider, limit=1600)
        sender = self.sender(delivery)
        data = {
            "To": delivery.address,
            "Body": delivery.body,
            "StatusCallback": self.status_callback_url,
        }
        if sender.messaging_service_sid:
            data["MessagingServiceSid"] = sender.messaging_service_sid
        else:
            data["From"] = sender.phone_number
        return self.create(delivery, data)

    def list_filters(self, delivery: Delivery) -> dict[str, str]:
        if self.sender(delivery).messaging_service_sid:
            # The sender came from the service's pool: filter by recipient only.
            return {"To": delivery.address, "PageSize": "50"}
        return super().list_filters(delivery)

    def matches(self, item: dict[str, Any], delivery: Delivery) -> bool:
        return item.get("body") == delivery.body and super().matches(item, delivery)
