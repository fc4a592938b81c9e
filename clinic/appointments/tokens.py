"""One-tap confirm and cancel links for reminders: signed, expiring, single use.

A token signs the appointment's public id, the action and the appointment's
``updated_at`` when the token was issued. It works only while the appointment
is unchanged since then: acting on it changes ``updated_at``, so the token is
single-use without any table of used tokens, and a moved or cancelled
appointment invalidates every link sent before. It also expires after
``MAX_AGE`` and once the appointment has started.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from typing import Literal

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from clinic.models import Appointment

SALT = "clinic.appointment-action"
MAX_AGE = datetime.timedelta(days=14)
ACTIONS = ("confirm", "cancel")
Action = Literal["confirm", "cancel"]
# One letter per action, and base-64 ids: the link goes into SMS, where every
# character counts.
LETTERS = {"confirm": "c", "cancel": "x"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class TokenError(Exception):
    """The link cannot act; ``code`` says why: invalid, expired, started, used."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _stamp(appointment: Appointment) -> str:
    microseconds = (appointment.updated_at - EPOCH) // datetime.timedelta(
        microseconds=1
    )
    return format(microseconds, "x")


def _encode_id(public_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(public_id.bytes).decode().rstrip("=")


def _decode_id(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=="))


def appointment_token_make(*, appointment: Appointment, action: Action) -> str:
    """A signed token letting whoever holds it ``action`` the appointment once."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown appointment action: {action!r}.")
    value = ".".join(
        [_encode_id(appointment.public_id), LETTERS[action], _stamp(appointment)]
    )
    return signing.TimestampSigner(salt=SALT).sign(value)


def appointment_action_url(appointment: Appointment, action: Action) -> str:
    """The path of the one-tap page for the reminder templates (prefix the site URL)."""
    token = appointment_token_make(appointment=appointment, action=action)
    return reverse("appointment_action", args=[token])


def appointment_token_read(
    *, token: str, now: datetime.datetime | None = None
) -> tuple[Appointment, Action]:
    """The appointment and action a token allows now.

    Raises TokenError when the signature is wrong, the token is older than
    ``MAX_AGE``, the appointment is gone, has started, or changed since the
    token was issued (which includes the token having been used).
    """
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token, max_age=MAX_AGE)
        encoded_id, letter, stamp = value.split(".")
        public_id = _decode_id(encoded_id)
    except signing.SignatureExpired as exc:
        raise TokenError("expired") from exc
    except (signing.BadSignature, ValueError, binascii.Error) as exc:
        raise TokenError("invalid") from exc
    action = next((a for a, c in LETTERS.items() if c == letter), None)
    if action is None:
        raise TokenError("invalid")
    appointment = (
        Appointment.objects.select_related("organization", "site", "patient")
        .filter(public_id=public_id)
        .first()
    )
    if appointment is None:
        raise TokenError("invalid")
    if appointment.starts_at <= (now or timezone.now()):
        raise TokenError("started")
    if _stamp(appointment) != stamp:
        raise TokenError("used")
    return appointment, action
