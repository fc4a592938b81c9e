"""One-click unsubscribe from a topic's email (RFC 8058 List-Unsubscribe).

The link carries a signed token naming the patient and the topic: the
signature is the authorisation, so the link works without login, from any
old email, and cannot be forged or pointed at another patient.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse

from clinic.models import Patient
from consent.errors import ConsentError
from consent.models import ALL_CHANNELS, ConsentEvent, ConsentState, Topic, scope_key
from consent.services import consent_record
from consent.vocabulary import Channel, Purpose, Source

SALT = "consent.unsubscribe"
INVALID = "This unsubscribe link is invalid."
# Two base64 UUIDs and a signature are under 100 characters.
MAX_TOKEN_LENGTH = 200


def _signer() -> signing.Signer:
    # No timestamp: links in old emails must keep working. SECRET_KEY_FALLBACKS
    # keeps them valid across a key rotation.
    return signing.Signer(salt=SALT)


def unsubscribe_token_make(*, patient: Patient, topic: Topic) -> str:
    """A URL-safe, tamper-proof, non-expiring token for (patient, topic). Pure."""
    raw = patient.public_id.bytes + topic.public_id.bytes
    value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return _signer().sign(value)


def unsubscribe_token_read(token: str) -> tuple[Patient, Topic]:
    """The patient and topic a token names.

    Raises ConsentError("This unsubscribe link is invalid.") for a malformed or
    tampered token, a patient or topic that no longer exists, or a topic of
    another organization. Reads only.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise ConsentError(INVALID)
    try:
        value = _signer().unsign(token)
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (signing.BadSignature, binascii.Error, ValueError):
        raise ConsentError(INVALID) from None
    if len(raw) != 32:
        raise ConsentError(INVALID)
    patient_id, topic_id = uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:])
    patient = (
        Patient.objects.select_related("organization")
        .filter(public_id=patient_id)
        .first()
    )
    if patient is None:
        raise ConsentError(INVALID)
    topic = (
        Topic.objects.for_organization(patient.organization_id)
        .filter(public_id=topic_id)
        .first()
    )
    if topic is None:
        raise ConsentError(INVALID)
    return patient, topic


def unsubscribe_target_get(*, token: str) -> tuple[Patient, Topic]:
    """The patient and topic a token may unsubscribe from, for the pages.

    Raises ConsentError as ``unsubscribe_token_read`` does, and for a security
    topic, whose mail cannot be unsubscribed. Reads only.
    """
    patient, topic = unsubscribe_token_read(token)
    if topic.purpose == Purpose.SECURITY:
        raise ConsentError("Security messages cannot be unsubscribed.")
    return patient, topic


def _email_withdrawal(patient: Patient, topic: Topic) -> ConsentEvent | None:
    """The withdrawal in force for this topic's email, if any (as ``decide`` reads it)."""
    state = (
        ConsentState.objects.filter(
            patient=patient,
            scope__in=[
                scope_key(topic_id=topic.pk),
                scope_key(purpose=topic.purpose),
            ],
            channel__in=[Channel.EMAIL, ALL_CHANNELS],
        )
        .select_related("event")
        .order_by("-occurred_at", "-event_id")
        .first()
    )
    return state.event if state is not None and not state.granted else None


def unsubscribe_apply(
    *,
    token: str,
    ip_address: str | None = None,
    user_agent: str = "",
    one_click: bool = False,
) -> ConsentEvent:
    """Withdraw the token's topic on the email channel, and return the event.

    Writes one ledger event (source ``email-unsubscribe``) and updates the
    derived state; when the topic's email is already withdrawn, writes nothing
    and returns the withdrawal in force, so a mail client retrying the POST
    does not fill the ledger. ``one_click`` tells an automatic RFC 8058 POST
    from a click on the confirmation page.

    Raises ConsentError for an invalid token (see ``unsubscribe_token_read``)
    and for a security topic, whose mail cannot be unsubscribed.
    """
    patient, topic = unsubscribe_target_get(token=token)
    in_force = _email_withdrawal(patient, topic)
    if in_force is not None:
        return in_force
    return consent_record(
        patient=patient,
        granted=False,
        topic=topic,
        channel=Channel.EMAIL,
        source=Source.EMAIL_UNSUBSCRIBE,
        actor_label="Email unsubscribe link",
        ip_address=ip_address,
        user_agent=user_agent,
        evidence={"rfc8058": True, "one_click": one_click},
    )


def unsubscribe_url(*, patient: Patient, topic: Topic) -> str:
    """The absolute unsubscribe link for (patient, topic), on ``SITE_URL``. Pure."""
    token = unsubscribe_token_make(patient=patient, topic=topic)
    path = reverse("consent:unsubscribe", kwargs={"token": token})
    return f"{settings.SITE_URL}{path}"


def unsubscribe_headers(*, patient: Patient, topic: Topic) -> dict[str, str]:
    """The RFC 8058 headers for an email about ``topic`` to ``patient``.

    Returns ``List-Unsubscribe`` and ``List-Unsubscribe-Post``; an empty dict
    for a security topic, whose mail must not offer unsubscribing. Raises
    ConsentError when the topic is another organization's. Pure.
    """
    if topic.organization_id != patient.organization_id:
        raise ConsentError(
            "The topic belongs to another organization than the patient."
        )
    if topic.purpose == Purpose.SECURITY:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(patient=patient, topic=topic)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
