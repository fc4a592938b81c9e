"""Mailgun's tracking webhook, with replays refused.

Anymail checks Mailgun's signature, an HMAC of ``timestamp + token`` only: the
event data is not signed. A signature block captured once (from a log, a
proxy) could be sent again, a day later, with other event data — a forged
complaint withdraws a patient's email consent, a forged bounce marks their
address invalid. So a signature is accepted only while fresh (signed at most
``MAX_AGE`` ago, and not more than ``MAX_AHEAD`` in the future: clocks
differ), and its token only once, on every host: the token is written to the
shared database under a unique index (``WebhookToken``), in the transaction
that applies the event, so a handling that fails leaves the token free for
Mailgun's retry.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks import mailgun

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from messaging.models import WebhookToken

MAX_AGE = datetime.timedelta(minutes=5)
MAX_AHEAD = datetime.timedelta(minutes=1)


def webhook_token_use(
    *, provider: str, token: str, signed_at: datetime.datetime
) -> bool:
    """Record ``token`` as used; False when it was used before (a replay).

    Deletes the tokens signed before ``MAX_AGE`` ago first: their signatures
    are refused as stale whatever the token, so they need no keeping.
    """
    WebhookToken.objects.filter(signed_at__lt=timezone.now() - MAX_AGE).delete()
    try:
        with transaction.atomic():
            WebhookToken.objects.create(
                provider=provider, token=token, signed_at=signed_at
            )
    except IntegrityError:
        return False
    return True


def _signature_fields(request: HttpRequest) -> tuple[str, str]:
    """The token and timestamp Anymail just checked the signature of (read
    the way it reads them: JSON signature block, or the legacy form)."""
    if request.content_type == "application/json":
        block = json.loads(request.body.decode())["signature"]
        return str(block["token"]), str(block["timestamp"])
    return request.POST["token"], request.POST["timestamp"]


def _signed_at(timestamp: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(float(timestamp), tz=datetime.UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise AnymailWebhookValidationFailure(
            "Mailgun webhook called with an unreadable timestamp"
        ) from error


class MailgunTrackingWebhookView(mailgun.MailgunTrackingWebhookView):
    """Anymail's Mailgun tracking view, refusing stale or reused signatures
    (a 400, as Anymail answers any signature it refuses)."""

    def validate_request(self, request: HttpRequest) -> None:
        super().validate_request(request)
        token, timestamp = _signature_fields(request)
        signed_at = _signed_at(timestamp)
        now = timezone.now()
        if not now - MAX_AGE <= signed_at <= now + MAX_AHEAD:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with a stale or future timestamp"
            )
        if len(token) > WebhookToken._meta.get_field("token").max_length:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with an over-long token"
            )
        if not webhook_token_use(provider="mailgun", token=token, signed_at=signed_at):
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with a token already used"
            )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The token is used only if the event's effects are committed.
        with transaction.atomic():
            return super().post(request, *args, **kwargs)
