"""Survey links: signed, expiring, single use, and no health data in the URL.

The token signs the invitation's public id. Expiry is the invitation's own
``expires_at``; single use is its ``answered_at``; both are checked against
the row, so staff can end a link early.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from feedback.models import SurveyInvitation

SALT = "feedback.invitation"


class InvitationTokenError(Exception):
    """``code``: invalid, expired or used; ``invitation`` when it is known
    (used or expired), so the page can answer in the patient's language."""

    def __init__(self, code: str, invitation: SurveyInvitation | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.invitation = invitation


def invitation_token(invitation: SurveyInvitation) -> str:
    value = base64.urlsafe_b64encode(invitation.public_id.bytes).decode().rstrip("=")
    return signing.Signer(salt=SALT).sign(value)


def invitation_url(invitation: SurveyInvitation) -> str:
    return reverse("survey_answer", args=[invitation_token(invitation)])


def invitation_read(token: str, *, now=None) -> SurveyInvitation:
    """The invitation a token opens now; raises InvitationTokenError."""
    try:
        value = signing.Signer(salt=SALT).unsign(token)
        public_id = uuid.UUID(bytes=base64.urlsafe_b64decode(value + "=="))
    except (signing.BadSignature, binascii.Error, ValueError) as error:
        raise InvitationTokenError("invalid") from error
    invitation = (
        SurveyInvitation.objects.select_related("survey", "patient", "organization")
        .filter(public_id=public_id)
        .first()
    )
    if invitation is None:
        raise InvitationTokenError("invalid")
    if invitation.answered_at is not None:
        raise InvitationTokenError("used", invitation)
    if (now or timezone.now()) >= invitation.expires_at:
        raise InvitationTokenError("expired", invitation)
    return invitation
