"""Enrolment: staff invite a patient (or a caregiver), who creates an account
bound to the patient record after confirming the patient's birth date.

Invitations are single-use and expire; only a hash of their token is stored.
The patient's invitation goes through the messaging pipeline (purpose
``security``) to the first of the patient's email or mobile number, verified
or not: the link is what proves the address, so enrolling through it marks
that address verified. A caregiver, who is no patient of the clinic, is
invited by email directly.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.models import Caregiver, Invitation, Patient
from consent.contact_points import contact_point_verified
from consent.models import Topic
from consent.selectors import channel_order_get
from consent.vocabulary import Channel, Purpose
from messaging.content import delivery_address
from messaging.models import Delivery, DeliveryStatus, Message
from messaging.services import message_send
from messaging.services.redaction import message_secrets_erase

INVITATION_VALIDITY = datetime.timedelta(days=7)
MAX_FAILED_ATTEMPTS = 5


class EnrolmentError(ValueError):
    """An enrolment that cannot go on; the message is shown to the person."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enrol_url(token: str) -> str:
    return f"{settings.SITE_URL}/portal/enrol/{token}/"


@transaction.atomic
def invitation_send(
    *,
    patient: Patient,
    created_by=None,
    caregiver_email: str = "",
    relationship: str = "",
    can_see_appointments: bool = True,
    can_see_messages: bool = True,
    can_see_results: bool = False,
    can_manage_preferences: bool = False,
    access_until: datetime.datetime | None = None,
) -> Invitation:
    """Create an invitation and send its link; returns the Invitation.

    Raises EnrolmentError when the patient already has an account (patient
    invitation) or the organization has no security topic to send it with.
    """
    if patient.erased_at is not None:
        raise EnrolmentError(_("This patient's data was erased."))
    if not caregiver_email and patient.user_id is not None:
        raise EnrolmentError(_("This patient already has a portal account."))
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        patient=patient,
        token_hash=_hash(token),
        caregiver_email=caregiver_email,
        relationship=relationship
        or (Caregiver.Relationship.OTHER if caregiver_email else ""),
        can_see_appointments=can_see_appointments,
        can_see_messages=can_see_messages,
        can_see_results=can_see_results,
        can_manage_preferences=can_manage_preferences,
        access_until=access_until,
        created_by=created_by,
        expires_at=timezone.now() + INVITATION_VALIDITY,
    )
    organization = patient.organization
    if caregiver_email:
        with translation.override(organization.default_language):
            send_mail(
                subject=_("%(organization)s invites you to its patient portal")
                % {"organization": organization.name},
                message=_(
                    "%(organization)s invites you to follow the care of a relative in "
                    "its patient portal. Create your account within 7 days: %(link)s\n\n"
                    "You will be asked for the patient's birth date."
                )
                % {"organization": organization.name, "link": enrol_url(token)},
                from_email=None,
                recipient_list=[caregiver_email],
            )
        return invitation
    topic = (
        Topic.objects.for_organization(organization)
        .filter(purpose=Purpose.SECURITY)
        .first()
    )
    if topic is None:
        raise EnrolmentError(
            _("The organization has no security topic to send invitations with.")
        )
    with translation.override(patient.preferred_language):
        text = _(
            "%(organization)s: create your patient portal account within 7 days: %(link)s"
        ) % {"organization": organization.name, "link": "{{ enrol_link }}"}
    channel, address = _invitation_route(patient, topic)
    message_send(
        patient=patient,
        topic=topic,
        origin="staff",
        text=text,
        # The link is the credential: staff (the sender included) see it
        # masked; it is erased once sent or expired (messaging.redaction).
        secrets={"enrol_link": enrol_url(token)},
        secrets_expire_at=invitation.expires_at,
        idempotency_key=_idempotency_key(invitation),
        sender=created_by,
        channels=[channel],
        address=address,
    )
    return invitation


def _idempotency_key(invitation: Invitation) -> str:
    return f"invitation:{invitation.public_id}"


def _invitation_route(patient: Patient, topic: Topic) -> tuple[str, str]:
    """The first channel of the patient's order with an address on record."""
    for channel in channel_order_get(patient=patient, topic=topic):
        if channel == Channel.EMAIL and patient.email:
            return channel, patient.email
        if channel == Channel.SMS and patient.phone and patient.phone_is_mobile:
            return channel, str(patient.phone)
    raise EnrolmentError(
        _("This patient has no email address or mobile number to invite.")
    )


def _prove_invitation_address(invitation: Invitation, at: datetime.datetime) -> None:
    """The patient followed the link: the address it went to is theirs, if it
    is still the one on record."""
    patient = invitation.patient
    deliveries = Delivery.objects.filter(
        message__organization_id=patient.organization_id,
        message__patient=patient,
        message__idempotency_key=_idempotency_key(invitation),
        to_address_being_verified=True,
        status__in=[DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ],
    )
    for channel, address in deliveries.values_list("channel", "address"):
        if address and address == delivery_address(patient, channel):
            kind = "email" if channel == Channel.EMAIL else "phone"
            contact_point_verified(patient=patient, kind=kind, at=at)


def invitation_get(*, token: str) -> Invitation:
    """The open invitation for ``token``; raises EnrolmentError otherwise."""
    invitation = (
        Invitation.objects.filter(token_hash=_hash(token or ""))
        .select_related("patient", "patient__organization")
        .first()
    )
    if invitation is None or invitation.used_at is not None:
        raise EnrolmentError(
            _("This invitation link is not valid or was already used.")
        )
    if invitation.expires_at <= timezone.now():
        raise EnrolmentError(
            _("This invitation has expired. Ask your clinic for a new one.")
        )
    if invitation.failed_attempts >= MAX_FAILED_ATTEMPTS:
        raise EnrolmentError(
            _(
                "Too many wrong birth dates: this invitation is locked. Ask your clinic for a new one."
            )
        )
    return invitation


def _count_failure(invitation: Invitation) -> None:
    # Its own transaction: the failure must count even though enrolment fails.
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation.pk).update(
            failed_attempts=invitation.failed_attempts + 1
        )


def enrol(*, token: str, birth_date: datetime.date, username: str, password: str):
    """Create the account the invitation is for and bind it; returns the user.

    Raises EnrolmentError (wrong birth date — counted, locked after five —,
    used or expired link) or ValidationError (username taken, weak password).
    """
    invitation = invitation_get(token=token)
    patient = invitation.patient
    if birth_date != patient.birth_date:
        _count_failure(invitation)
        raise EnrolmentError(_("The birth date does not match our records."))
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    user = user_model(username=username)
    password_validation.validate_password(password, user)
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=invitation.pk, used_at__isnull=True
        ).update(used_at=timezone.now())
        if not claimed:
            raise EnrolmentError(
                _("This invitation link is not valid or was already used.")
            )
        user.set_password(password)
        if invitation.for_caregiver:
            user.email = invitation.caregiver_email
        else:
            user.email = patient.email
            user.first_name, user.last_name = patient.given_name, patient.family_name
        user.save()
        if invitation.for_caregiver:
            Caregiver.objects.create(
                user=user,
                patient=patient,
                relationship=invitation.relationship,
                can_see_appointments=invitation.can_see_appointments,
                can_see_messages=invitation.can_see_messages,
                can_see_results=invitation.can_see_results,
                can_manage_preferences=invitation.can_manage_preferences,
                valid_until=invitation.access_until,
            )
        else:
            bound = Patient.objects.filter(pk=patient.pk, user__isnull=True).update(
                user=user
            )
            if not bound:
                raise EnrolmentError(_("This patient already has a portal account."))
            _prove_invitation_address(invitation, timezone.now())
        # Used: the link in the message's stored copy is worth nothing now.
        message_secrets_erase(
            messages=Message.objects.filter(
                organization_id=patient.organization_id,
                idempotency_key=_idempotency_key(invitation),
            )
        )
    return user
