"""SMS through Twilio's Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``).

Requests are form-encoded with HTTP basic auth (account SID, auth token);
errors come back as JSON ``{"code": 21211, "message": …}`` and Twilio signs
its webhooks with ``X-Twilio-Signature`` (see ``twilio_signature``).
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from messaging.backends.base import DeliveryError
from messaging.backends.http import HttpBackend
from messaging.backends.sms import check_sms_length

if TYPE_CHECKING:
    from messaging.models import Delivery

# A provider clock a little behind ours must not hide a message it accepted.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def twilio_signature(
    auth_token: str, url: str, params: Mapping[str, Iterable[str]]
) -> str:
    """Twilio's ``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, the full
    URL + every POST parameter as name + value, sorted by name then value))."""
    payload = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


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

    OPTIONS: ``account_sid``, ``auth_token``, ``from_number`` (or, for SMS,
    ``messaging_service_sid``), ``base_url`` (default https://api.twilio.com),
    ``status_callback_url`` (default ``{SITE_URL}/webhooks/twilio/status``),
    ``connect_timeout`` / ``read_timeout`` in seconds (5 and 10).
    """

    provider = "twilio"
    default_base_url = "https://api.twilio.com"
    required = {
        "account_sid": "TWILIO_ACCOUNT_SID",
        "auth_token": "TWILIO_AUTH_TOKEN",
        "from_number": "TWILIO_FROM",
    }
    resource = ""  # "Messages" or "Calls"

    def client_options(self) -> dict[str, Any]:
        return {"auth": (self.options["account_sid"], self.options["auth_token"])}

    def path(self, suffix: str) -> str:
        return f"/2010-04-01/Accounts/{self.options['account_sid']}/{suffix}"

    def create(self, delivery: Delivery, data: dict[str, str]) -> str:
        """POST one resource and return its SID; raises DeliveryError."""
        response = self.http.request(
            "POST",
            self.path(f"{self.resource}.json"),
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
        filters = {"To": delivery.address, "PageSize": "50"}
        if self.options.get("from_number"):
            filters["From"] = self.options["from_number"]
        return filters

    def reconcile(self, deliveries: list[Delivery]) -> dict[int, str | None]:
        """List the resources sent to each delivery's number (newest first,
        filtered by To and From) and take the first created after the delivery
        that ``matches`` it. Twilio keeps no reference of ours, so an
        identical resource sent to the same number in that window would match
        too; deliveries whose lookup failed are left out (not checked)."""
        found: dict[int, str | None] = {}
        key = self.resource.lower()
        with self.session():
            for delivery in deliveries:
                try:
                    response = self.http.request(
                        "GET",
                        self.path(f"{self.resource}.json"),
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

    Raises DeliveryError: permanent for a 4xx (21211 invalid number, 21610
    recipient replied STOP…), transient for 429/5xx/connection errors,
    ``unknown`` when Twilio stopped answering after the request was sent.
    """

    resource = "Messages"

    def required_options(self) -> dict[str, str]:
        if self.options.get("messaging_service_sid"):
            # A Messaging Service picks the sender from its own pool.
            return {k: v for k, v in self.required.items() if k != "from_number"}
        return self.required

    def send(self, delivery: Delivery) -> str:
        if self.resource == "Messages":
            # Twilio refuses message bodies over 1,600 characters (error 21617).
            check_sms_length(delivery.body, provider=self.provider, limit=1600)
        data = {
            "To": delivery.address,
            "Body": delivery.body,
            "StatusCallback": self.status_callback_url,
        }
        if self.options.get("messaging_service_sid"):
            data["MessagingServiceSid"] = self.options["messaging_service_sid"]
        else:
            data["From"] = self.options["from_number"]
        return self.create(delivery, data)

    def list_filters(self, delivery: Delivery) -> dict[str, str]:
        if self.options.get("messaging_service_sid"):
            # The sender came from the service's pool: filter by recipient only.
            return {"To": delivery.address, "PageSize": "50"}
        return super().list_filters(delivery)

    def matches(self, item: dict[str, Any], delivery: Delivery) -> bool:
        return item.get("body") == delivery.body and super().matches(item, delivery)
