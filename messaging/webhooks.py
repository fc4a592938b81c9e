"""Provider webhooks in: status callbacks, inbound SMS, keypad answers.

Every view checks the provider's signature before reading anything else; a
missing or forged one gets an empty 403, logged without the request body.
Logs carry provider ids, never numbers or texts. Inbound events (an SMS, a
keypad answer) take effect once per provider id (``messaging.receipts.services``): a
retry changes nothing and is answered with nothing.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.backends.base import DeliveryError
from messaging.backends.http import provider_backends
from messaging.backends.sms.sinch import sinch_signature
from messaging.backends.voice import tts_language
from messaging.inbound import inbound_sms_receive
from messaging.models import Delivery, DeliveryStatus, InboundReceipt
from messaging.receipts.services import inbound_once
from messaging.senders.selectors import identity_secrets
from messaging.services import delivery_status_update

logger = logging.getLogger(__name__)
View = Callable[[HttpRequest], HttpResponse]

#: Takes the call's delivery and the key pressed; returns what the call says
#: back (in the delivery's language), or None when the key is not its
#: business. Registered by other apps (reminders) so messaging imports none.
KeypadHandler = Callable[[Delivery, str], str | None]
_keypad_handlers: list[KeypadHandler] = []


def register_keypad_handler(handler: KeypadHandler) -> KeypadHandler:
    """Offer every keypad answer to ``handler`` (from an AppConfig.ready)."""
    if handler not in _keypad_handlers:
        _keypad_handlers.append(handler)
    return handler


# Provider words → ours. Words left out (queued, ringing, Dispatched…) say
# nothing a delivery does not already know, and are acknowledged and dropped.
TWILIO_MESSAGE_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}
TWILIO_CALL_STATUSES = {
    "completed": DeliveryStatus.DELIVERED,
    "busy": DeliveryStatus.FAILED,
    "no-answer": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
SINCH_STATUSES = {
    "Delivered": DeliveryStatus.DELIVERED,
    "Failed": DeliveryStatus.FAILED,
    "Expired": DeliveryStatus.FAILED,
    "Rejected": DeliveryStatus.FAILED,
    "Aborted": DeliveryStatus.FAILED,
    "Deleted": DeliveryStatus.FAILED,
    "Cancelled": DeliveryStatus.FAILED,
}
# Sinch signatures older than this are refused, so a captured one cannot be
# replayed for long.
SINCH_SIGNATURE_MAX_AGE = 600


def _secrets(provider: str, option: str) -> set[str]:
    return {
        b.options[option] for b in provider_backends(provider) if b.options.get(option)
    }


def _twilio_data(request: HttpRequest) -> Mapping[str, str]:
    """The callback's parameters: form-encoded as a rule; a JSON object for
    the webhooks Twilio sends as JSON (signed with ``bodySHA256``)."""
    if request.content_type == "application/json":
        payload = _json(request) or {}
        return {k: v for k, v in payload.items() if isinstance(v, str)}
    return request.POST


def _twilio_signed(request: HttpRequest) -> bool:
    """Checked by Twilio's own ``RequestValidator``: the URL with and without
    its default port, HMAC-SHA1 or the algorithm the signature settings header
    names, and a JSON body through its ``bodySHA256``.

    Twilio signs with the auth token of the account the number belongs to:
    the platform's (environment), else the one a sender identity stores for
    the ``AccountSid`` the request names (read only when the platform's does
    not match, so the platform's own traffic costs no query)."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    algorithm = get_signature_algorithm(
        request.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    )
    params: Any
    if request.content_type == "application/json":
        # Signed over the URL only; the body is bound by the bodySHA256 the
        # URL carries. Without one, the body would be signed by nothing.
        if "bodySHA256" not in request.GET:
            return False
        try:
            params = request.body.decode()
        except UnicodeDecodeError:
            return False
    else:
        params = request.POST
    # Twilio signs the URL it called: SITE_URL's, unless a proxy in front
    # rewrote what this process sees, so both are tried.
    urls = {settings.SITE_URL + request.get_full_path(), request.build_absolute_uri()}

    def signed_with(tokens: set[str]) -> bool:
        return any(
            RequestValidator(token).validate(url, params, signature, algorithm)
            for token in tokens
            for url in urls
        )

    return signed_with(_secrets("twilio", "auth_token")) or signed_with(
        identity_secrets(
            provider="twilio", account_id=_twilio_data(request).get("AccountSid", "")
        )
    )


def _sinch_signed(request: HttpRequest) -> bool:
    signature = request.headers.get("x-sinch-webhook-signature", "")
    nonce = request.headers.get("x-sinch-webhook-signature-nonce", "")
    timestamp = request.headers.get("x-sinch-webhook-signature-timestamp", "")
    secrets = _secrets("sinch", "webhook_secret")
    if not (signature and nonce and timestamp and secrets):
        return False
    try:
        if abs(time.time() - int(timestamp)) > SINCH_SIGNATURE_MAX_AGE:
            return False
    except ValueError:
        return False
    return any(
        hmac.compare_digest(
            sinch_signature(s, request.body, nonce, timestamp), signature
        )
        for s in secrets
    )


def signed(
    check: Callable[[HttpRequest], bool], endpoint: str
) -> Callable[[View], View]:
    """POST only, CSRF-exempt, and refused with an empty 403 unless ``check``
    accepts the provider's signature."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @require_POST
        @functools.wraps(view)
        def wrapped(request: HttpRequest) -> HttpResponse:
            if not check(request):
                # The body may hold a patient's number and words: never logged.
                logger.warning("webhook %s: missing or invalid signature", endpoint)
                return HttpResponse(status=403)
            return view(request)

        return wrapped

    return decorate


def _twiml(body: str) -> HttpResponse:
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="text/xml",
    )


@signed(_twilio_signed, "twilio/status")
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A Message or Call status callback; answers 204 whatever it changed."""
    data = _twilio_data(request)
    if "MessageStatus" in data:
        sid = data.get("MessageSid", "")
        status = TWILIO_MESSAGE_STATUSES.get(data["MessageStatus"])
        error_code = data.get("ErrorCode", "")
    else:
        sid = data.get("CallSid", "")
        status = TWILIO_CALL_STATUSES.get(data.get("CallStatus", ""))
        # A busy line or no answer carries no ErrorCode: keep the word.
        error_code = data.get("ErrorCode") or data.get("CallStatus", "")
    if not sid:
        return HttpResponse(status=400)
    if status is not None:
        delivery_status_update(
            provider="twilio", provider_id=sid, status=status, error_code=error_code
        )
    return HttpResponse(status=204)


@signed(_twilio_signed, "twilio/inbound")
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS from a patient; a keyword's reply goes back as TwiML, a retry
    gets an empty answer."""
    data = _twilio_data(request)
    if not data.get("MessageSid") or not data.get("From"):
        return HttpResponse(status=400)
    result = inbound_sms_receive(
        provider="twilio",
        to_number=data.get("To", ""),
        from_number=data["From"],
        text=data.get("Body", ""),
        provider_message_id=data["MessageSid"],
        account_id=data.get("AccountSid", ""),
        messaging_service_sid=data.get("MessagingServiceSid", ""),
    )
    reply = result.reply
    return _twiml(f"<Message>{escape(reply)}</Message>" if reply else "")


@signed(_twilio_signed, "twilio/voice/keypad")
def twilio_voice_keypad(request: HttpRequest) -> HttpResponse:
    """A key pressed during a call-out (1 confirm, 2 cancel): handed to the
    registered keypad handlers, whose answer the call says; else thanked.
    Once per call: a retry changes nothing and says nothing."""
    data = _twilio_data(request)
    call_sid = data.get("CallSid", "")
    digit = data.get("Digits", "")[:1]
    if not call_sid:
        return _say(settings.LANGUAGE_CODE, None)
    with inbound_once(provider="twilio", provider_message_id=call_sid) as receipt:
        if receipt is None:
            return _twiml("")
        delivery = (
            Delivery.objects.filter(provider="twilio", provider_id=call_sid)
            .select_related("message")
            .first()
        )
        logger.info(
            "keypad %r on delivery %s", digit, delivery.pk if delivery else None
        )
        if delivery is None:
            receipt.outcome = InboundReceipt.Outcome.IGNORED
            return _say(settings.LANGUAGE_CODE, None)
        receipt.organization_id = delivery.organization_id
        answer = None
        if digit:
            answer = next(
                (a for h in _keypad_handlers if (a := h(delivery, digit)) is not None),
                None,
            )
        receipt.outcome = (
            InboundReceipt.Outcome.KEYPAD if answer else InboundReceipt.Outcome.IGNORED
        )
    return _say(delivery.message.language, answer)


def _say(language: str, answer: str | None) -> HttpResponse:
    """TwiML saying ``answer`` (or thanks) in the patient's language."""
    with translation.override(language):
        text = answer or _("Thank you. Goodbye.")
    return _twiml(
        f"<Say language={quoteattr(tts_language(language))}>{escape(text)}</Say>"
    )


def _json(request: HttpRequest) -> dict[str, Any] | None:
    try:
        payload = json.loads(request.body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _e164(number: str) -> str:
    # Sinch writes MSISDNs without the "+" our patients' numbers carry.
    return f"+{number}" if number.isdigit() else number


def _sinch_reply(organization_id: int, to_number: str, text: str) -> None:
    """Sinch takes no reply in the callback's answer: send it as a batch, from
    the organization's Sinch identity (the number the patient texted)."""
    for backend in provider_backends("sinch"):
        if hasattr(backend, "reply") and backend.is_available()[0]:
            try:
                backend.reply(
                    organization_id=organization_id, to_number=to_number, text=text
                )
            except DeliveryError as error:
                logger.warning("sinch keyword reply failed: %s", error.code)
            return
    logger.warning("sinch keyword reply not sent: no usable Sinch SMS backend")


def _sinch_event(payload: dict[str, Any]) -> HttpResponse:
    """One Sinch callback. Sinch may send delivery reports and inbound SMS to
    the same URL (one callback URL per service plan), so both endpoints
    accept both, told apart by ``type``."""
    kind = payload.get("type", "")
    if kind == "recipient_delivery_report_sms":
        batch_id = str(payload.get("batch_id", ""))
        if not batch_id:
            return HttpResponse(status=400)
        status = SINCH_STATUSES.get(payload.get("status", ""))
        if status is not None:
            delivery_status_update(
                provider="sinch",
                provider_id=batch_id,
                status=status,
                error_code=str(payload.get("code", "")),
                client_reference=str(payload.get("client_reference", "")),
            )
    elif kind == "mo_text":
        if not payload.get("id") or not payload.get("from"):
            return HttpResponse(status=400)
        from_number = _e164(str(payload["from"]))
        result = inbound_sms_receive(
            provider="sinch",
            to_number=_e164(str(payload.get("to", ""))),
            from_number=from_number,
            text=str(payload.get("body", "")),
            provider_message_id=str(payload["id"]),
        )
        if result.reply and result.organization_id is not None:
            # An HTTP call: only once the effects are committed, and only for
            # the copy that made them (a retry's result has no reply).
            reply, organization_id = result.reply, result.organization_id
            transaction.on_commit(
                lambda: _sinch_reply(organization_id, from_number, reply)
            )
    return HttpResponse(status=200)


@signed(_sinch_signed, "sinch/status")
def sinch_status(request: HttpRequest) -> HttpResponse:
    """A Sinch delivery report (``recipient_delivery_report_sms``)."""
    payload = _json(request)
    return _sinch_event(payload) if payload is not None else HttpResponse(status=400)


@signed(_sinch_signed, "sinch/inbound")
def sinch_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS from a patient (``mo_text``); a keyword's reply is sent as a batch."""
    payload = _json(request)
    return _sinch_event(payload) if payload is not None else HttpResponse(status=400)
