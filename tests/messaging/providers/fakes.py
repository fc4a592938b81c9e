"""Local stand-ins for the providers' REST APIs, on pytest-httpserver.

Each ``Provider`` says where its backend posts, what a success looks like and
what an error body carries, as each provider documents it.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_httpserver import HTTPServer
from twilio.request_validator import RequestValidator
from werkzeug import Request, Response

from django.conf import settings

from messaging.backends.sms.sinch import sinch_signature

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-test-token"
SINCH_PLAN = "plan123"
SINCH_TOKEN = "sinch-test-token"
SINCH_SECRET = "sinch-webhook-secret"
SINCH_KEY = "sinch-app-key"
SINCH_APP_SECRET = "sinch-app-secret"
# The numbers the test organization sends from (its sender identities).
TWILIO_NUMBER = "+33700000001"
SINCH_NUMBER = "+33700000002"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Provider:
    name: str
    backend: str
    method: str
    path: str
    options: Callable[[str], dict[str, Any]]
    accepted: Callable[[], tuple[dict[str, Any], int]]
    error: Callable[[str], dict[str, Any]]
    invalid_code: str  # what the provider says of an address it rejects

    def config(self, base_url: str, **overrides: Any) -> dict[str, Any]:
        return {"BACKEND": self.backend, "OPTIONS": self.options(base_url) | overrides}

    def accept(self, httpserver: HTTPServer) -> None:
        """Answer every send like the provider accepting it, with a new id."""

        def handler(request: Request) -> Response:
            payload, status = self.accepted()
            return Response(
                json.dumps(payload), status, content_type="application/json"
            )

        httpserver.expect_request(self.path, method=self.method).respond_with_handler(
            handler
        )

    def refuse(
        self,
        httpserver: HTTPServer,
        status: int,
        code: str,
        headers: dict | None = None,
    ) -> None:
        httpserver.expect_request(self.path, method=self.method).respond_with_json(
            self.error(code), status=status, headers=headers
        )


def twilio_options(base_url: str) -> dict[str, Any]:
    return {
        "account_sid": TWILIO_SID,
        "auth_token": TWILIO_TOKEN,
        "base_url": base_url,
    }


def sinch_sms_options(base_url: str) -> dict[str, Any]:
    return {
        "service_plan_id": SINCH_PLAN,
        "api_token": SINCH_TOKEN,
        "webhook_secret": SINCH_SECRET,
        "base_url": base_url,
    }


def sinch_voice_options(base_url: str) -> dict[str, Any]:
    return {
        "application_key": SINCH_KEY,
        "application_secret": SINCH_APP_SECRET,
        "base_url": base_url,
    }


def _twilio_error(code: str) -> dict[str, Any]:
    return {"code": int(code), "message": "refused", "more_info": "", "status": 400}


TWILIO_SMS = Provider(
    name="twilio-sms",
    backend="messaging.backends.sms.twilio.SmsBackend",
    method="POST",
    path=f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
    options=twilio_options,
    accepted=lambda: ({"sid": f"SM{next(_ids):032x}", "status": "queued"}, 201),
    error=_twilio_error,
    invalid_code="21211",
)
TWILIO_VOICE = Provider(
    name="twilio-voice",
    backend="messaging.backends.voice.twilio.VoiceBackend",
    method="POST",
    path=f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json",
    options=twilio_options,
    accepted=lambda: ({"sid": f"CA{next(_ids):032x}", "status": "queued"}, 201),
    error=_twilio_error,
    invalid_code="21217",
)
SINCH_SMS = Provider(
    name="sinch-sms",
    backend="messaging.backends.sms.sinch.SmsBackend",
    method="POST",
    path=f"/xms/v1/{SINCH_PLAN}/batches",
    options=sinch_sms_options,
    accepted=lambda: ({"id": f"01SINCH{next(_ids):019d}", "canceled": False}, 201),
    error=lambda code: {"code": code, "text": "refused"},
    invalid_code="syntax_invalid_parameter_format",
)
SINCH_VOICE = Provider(
    name="sinch-voice",
    backend="messaging.backends.voice.sinch.VoiceBackend",
    method="POST",
    path="/calling/v1/callouts",
    options=sinch_voice_options,
    accepted=lambda: ({"callId": f"call-{next(_ids)}"}, 200),
    error=lambda code: {"errorCode": int(code), "message": "refused"},
    invalid_code="40001",
)
PROVIDERS = [TWILIO_SMS, TWILIO_VOICE, SINCH_SMS, SINCH_VOICE]


def stall(httpserver: HTTPServer, provider: Provider, seconds: float) -> Callable:
    """Answer only after ``seconds``; returns a wait() for the stalled answer,
    so it does not land in the next test's log."""
    done: list[bool] = []

    def handler(request: Request) -> Response:
        time.sleep(seconds)
        done.append(True)
        payload, status = provider.accepted()
        return Response(json.dumps(payload), status, content_type="application/json")

    httpserver.expect_request(
        provider.path, method=provider.method
    ).respond_with_handler(handler)

    def wait() -> None:
        deadline = time.monotonic() + seconds + 2
        while not done and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.05)

    return wait


def unused_port_url() -> str:
    """A local URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def form(request: Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.get_data(as_text=True)))


def twilio_post(
    client, path: str, data: dict[str, str], *, token: str = TWILIO_TOKEN, **headers
):
    """POST like Twilio: form-encoded, signed over SITE_URL + path (by
    Twilio's own SDK)."""
    signature = RequestValidator(token).compute_signature(
        settings.SITE_URL + path, data
    )
    return client.post(
        path,
        urllib.parse.urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=headers.pop("signature", signature),
        **headers,
    )


def sinch_post(
    client, path: str, payload: dict[str, Any], *, secret: str = SINCH_SECRET
):
    """POST like a signed Sinch callback (HMAC-SHA256 over body.nonce.timestamp)."""
    body = json.dumps(payload).encode()
    nonce, timestamp = "n0nce", str(int(time.time()))
    return client.post(
        path,
        body,
        content_type="application/json",
        HTTP_X_SINCH_WEBHOOK_SIGNATURE=sinch_signature(secret, body, nonce, timestamp),
        HTTP_X_SINCH_WEBHOOK_SIGNATURE_NONCE=nonce,
        HTTP_X_SINCH_WEBHOOK_SIGNATURE_TIMESTAMP=timestamp,
    )


def logged_text(records) -> str:
    return "\n".join(record.getMessage() for record in records)
