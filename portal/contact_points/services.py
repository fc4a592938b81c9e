"""Changing a patient's email or mobile number, proven by a code.

The rules, in one place:

- A request does not change the record: it stores a pending change (one per
  patient and kind; a new request replaces the older one) and sends a
  6-digit code to the **new** address only, through ``message_send`` on the
  organization's security topic with ``address=`` (messaging judges that
  address as the one being verified; it never falls back to another channel).
- Only a keyed hash of the code is stored (HMAC with ``SECRET_KEY``, salted
  with the change's id: six digits are too few for a plain hash).
- A code expires after ``OTP_CODE_VALIDITY`` seconds and works once; a new
  code replaces it. ``MAX_WRONG_CODES`` wrong codes void the change. Codes
  are sent at most every ``OTP_CODE_COOLDOWN`` seconds and
  ``HOURLY_CODE_LIMIT`` times an hour per patient, whatever the kind.
- The right code applies the change in one transaction (``patient_update``),
  marks the new address verified, writes the patient's admin history and
  sends a notice (no code, no health data) to the old address, when it was
  verified: security messages go to verified contact points only.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from typing import Any

import phonenumbers
from phonenumber_field.phonenumber import PhoneNumber, to_python

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import formats, timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clinic.models import Patient
from clinic.services import patient_update, phone_is_mobile
from consent.contact_points import contact_point_is_verified, contact_point_verified
from consent.errors import ConsentError
from consent.models import Topic
from consent.services import preferences_get
from consent.vocabulary import Purpose
from messaging.content import MessageContentError
from messaging.models import Delivery
from messaging.services import message_send
from portal.contact_points.models import ContactPointChange

logger = logging.getLogger(__name__)

Kind = ContactPointChange.Kind
Status = ContactPointChange.Status

CODE_DIGITS = 6
MAX_WRONG_CODES = 5
HOURLY_CODE_LIMIT = 5
# However many codes were sent, a change left waiting this long is void.
CHANGE_LIFETIME = datetime.timedelta(hours=1)
HASH_SALT = "liaison.portal.contact_points.code"
# Admin history (staff read it; the user of the entry says who acted).
LOG_MESSAGES = {
    Kind.EMAIL: "Email changed in the patient portal, confirmed by a code sent "
    "to the new address.",
    Kind.PHONE: "Mobile phone changed in the patient portal, confirmed by a code "
    "sent to the new number.",
}


class ContactChangeError(Exception):
    """A change that cannot go on; the message is for the patient."""


def code_validity() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.OTP_CODE_VALIDITY)


def _code_hash(change: ContactPointChange, code: str) -> str:
    return salted_hmac(
        HASH_SALT, f"{change.public_id}:{code}", algorithm="sha256"
    ).hexdigest()


def _change_close(
    change: ContactPointChange, status: str, now: datetime.datetime
) -> None:
    """Close a pending change with ``status``, forgetting its address and code."""
    change.status, change.finished_at = status, now
    change.new_value, change.code_hash = "", ""
    change.save(update_fields=["status", "finished_at", "new_value", "code_hash"])


def _current(patient: Patient, kind: str) -> str:
    if kind == Kind.EMAIL:
        return patient.email
    return str(patient.phone) if patient.phone else ""


def contact_point_clean(*, patient: Patient, kind: str, value: str) -> str:
    """The new address in stored form (a lower-case domain; E.164 for phones).

    Raises ContactChangeError when it is not an email address, not a valid
    mobile number (national numbers read in the organization's country), or
    the patient's current one.
    """
    value = (value or "").strip()
    if kind == Kind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ContactChangeError(_("Enter a valid email address.")) from None
        local, _at, domain = value.rpartition("@")
        cleaned = f"{local}@{domain.lower()}"
        if cleaned.lower() == patient.email.lower():
            raise ContactChangeError(_("This is already your email address."))
        return cleaned
    if kind != Kind.PHONE:
        raise ValueError(f"Unknown contact point kind {kind!r}.")
    phone = _parse_phone(value, patient.organization.country)
    if phone is None or not phone.is_valid():
        raise ContactChangeError(
            _("Enter a valid phone number, with the country code if it is abroad.")
        )
    if not phone_is_mobile(phone):
        raise ContactChangeError(
            _("This number cannot receive SMS. Enter a mobile number.")
        )
    cleaned = phone.as_e164
    if cleaned == _current(patient, Kind.PHONE):
        raise ContactChangeError(_("This is already your mobile number."))
    return cleaned


def _parse_phone(value: str, region: str) -> PhoneNumber | None:
    try:
        phone = to_python(value, region=region or None)
    except phonenumbers.NumberParseException:
        return None
    return phone if isinstance(phone, PhoneNumber) else None


def _security_topic(patient: Patient, channel: str) -> Topic | None:
    """The organization's first security topic that uses ``channel``."""
    topics = (
        Topic.objects.for_organization(patient.organization_id)
        .filter(purpose=Purpose.SECURITY)
        .order_by("pk")
    )
    return next((t for t in topics if channel in t.channels), None)


def _lock_patient(patient: Patient) -> Patient:
    """Serialise the patient's requests, so limits and the one-pending rule hold."""
    return (
        Patient.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=patient.pk)
    )


def contact_changes_expire(*, patient: Patient, now: datetime.datetime) -> int:
    """End the patient's pending changes older than CHANGE_LIFETIME, forgetting
    their addresses; returns how many."""
    return (
        ContactPointChange.objects.for_patient(patient)
        .pending()
        .filter(created_at__lte=now - CHANGE_LIFETIME)
        .update(status=Status.EXPIRED, finished_at=now, new_value="", code_hash="")
    )


def _check_send_limits(patient: Patient, now: datetime.datetime) -> None:
    recent = (
        ContactPointChange.objects.for_patient(patient)
        .filter(last_sent_at__gt=now - datetime.timedelta(hours=1))
        .aggregate(last=Max("last_sent_at"), sent=Sum("send_count"))
    )
    if recent["last"] is not None:
        ready_at = recent["last"] + datetime.timedelta(
            seconds=settings.OTP_CODE_COOLDOWN
        )
        if ready_at > now:
            seconds = max(1, int((ready_at - now).total_seconds()))
            raise ContactChangeError(
                ngettext(
                    "A code was sent a moment ago. Wait %(seconds)s second before "
                    "asking for another.",
                    "A code was sent a moment ago. Wait %(seconds)s seconds before "
                    "asking for another.",
                    seconds,
                )
                % {"seconds": seconds}
            )
    if (recent["sent"] or 0) >= HOURLY_CODE_LIMIT:
        raise ContactChangeError(
            _("You asked for many codes in the last hour. Try again later.")
        )


def _code_text(change: ContactPointChange, code: str, language: str) -> tuple[str, str]:
    """(subject, text) of the code message: the code and what it is for only."""
    minutes = max(1, settings.OTP_CODE_VALIDITY // 60)
    values = {"code": code, "minutes": minutes}
    with translation.override(language or None):
        if change.kind == Kind.EMAIL:
            subject = _("Confirm your new email address")
            text = _(
                "Your code to confirm this email address for your patient portal "
                "is %(code)s. It expires in %(minutes)s minutes.\n\n"
                "If you did not ask for it, ignore this message. Never share "
                "this code: the clinic will never ask for it."
            )
        else:
            subject = ""
            text = _(
                "Liaison: your code to confirm this number is %(code)s. It expires "
                "in %(minutes)s minutes. Never share it."
            )
        return subject, text % values


def _send_code(change: ContactPointChange, now: datetime.datetime) -> None:
    """Make a new code (the previous one stops working) and send it to the
    new address. Raises ContactChangeError when it cannot go out."""
    patient = change.patient
    topic = _security_topic(patient, change.channel)
    if topic is None:
        raise ContactChangeError(_("Your clinic cannot send security codes yet."))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    change.code_hash = _code_hash(change, code)
    change.send_count += 1
    change.last_sent_at = now
    change.code_expires_at = now + code_validity()
    change.save(
        update_fields=["code_hash", "send_count", "last_sent_at", "code_expires_at"]
    )
    # The code is a secret of the message: a slot in the text, masked for
    # staff and erased once sent or expired (messaging.redaction).
    subject, text = _code_text(change, "{{ code }}", patient.preferred_language)
    try:
        message = message_send(
            patient=patient,
            topic=topic,
            origin="system",
            text=text,
            secrets={"code": code},
            secrets_expire_at=change.code_expires_at,
            subject=subject,
            idempotency_key=f"contact-point:{change.public_id}:{change.send_count}",
            channels=[change.channel],
            address=change.new_value,
        )
    except (ConsentError, MessageContentError, ValueError) as error:
        # The error type only: the text in this frame holds the code.
        logger.warning(
            "contact point code not planned: change=%s error=%s",
            change.pk,
            type(error).__name__,
        )
        raise ContactChangeError(
            _("We could not send a code to this address. Try again later.")
        ) from None
    planned = message.deliveries.filter(channel=change.channel).first()
    if planned is None or planned.status == Delivery.Status.SUPPRESSED:
        logger.warning(
            "contact point code not sent: change=%s reason=%s",
            change.pk,
            planned.reason if planned else "no_channel",
        )
        raise ContactChangeError(
            _("We could not send a code to this address. Try again later.")
        )


@transaction.atomic
def contact_change_request(
    *,
    patient: Patient,
    kind: str,
    value: str,
    actor: Any,
    now: datetime.datetime | None = None,
) -> ContactPointChange:
    """Start changing the patient's email (``kind`` email) or mobile number
    (phone): store a pending change and send a code to the new address.

    Returns the pending change; the patient's record is not changed. Replaces
    the patient's older pending change of the same kind. Raises
    ContactChangeError (nothing saved, nothing sent): unusable or unchanged
    address, a code sent too recently or too often, no way to send it.
    """
    now = now or timezone.now()
    patient = _lock_patient(patient)
    address = contact_point_clean(patient=patient, kind=kind, value=value)
    contact_changes_expire(patient=patient, now=now)
    _check_send_limits(patient, now)
    ContactPointChange.objects.for_patient(patient).pending().filter(kind=kind).update(
        status=Status.REPLACED, finished_at=now, new_value="", code_hash=""
    )
    change = ContactPointChange.objects.create(
        patient=patient,
        kind=kind,
        new_value=address,
        requested_by=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )
    _send_code(change, now)
    return change


def _lock_pending(
    change: ContactPointChange, now: datetime.datetime
) -> ContactPointChange:
    """The change, locked; raises ContactChangeError when it no longer waits
    (finished, or older than CHANGE_LIFETIME)."""
    locked = (
        ContactPointChange.objects.select_for_update(of=("self",))
        .select_related("patient__organization")
        .get(pk=change.pk, patient_id=change.patient_id)
    )
    if locked.status != Status.PENDING or locked.created_at <= now - CHANGE_LIFETIME:
        raise ContactChangeError(
            _("This change is no longer waiting for a code. Start again if needed.")
        )
    return locked


@transaction.atomic
def contact_change_resend(
    *, change: ContactPointChange, now: datetime.datetime | None = None
) -> ContactPointChange:
    """Send a new code for a pending change (the previous code stops working).

    Returns the change. Raises ContactChangeError when the change no longer
    waits, or a code was sent too recently or too often.
    """
    now = now or timezone.now()
    _lock_patient(change.patient)
    locked = _lock_pending(change, now)
    _check_send_limits(locked.patient, now)
    _send_code(locked, now)
    return locked


@transaction.atomic
def contact_change_cancel(
    *, change: ContactPointChange, now: datetime.datetime | None = None
) -> None:
    """Cancel a pending change (nothing happens to one already finished)."""
    now = now or timezone.now()
    locked = (
        ContactPointChange.objects.select_for_update()
        .filter(pk=change.pk, status=Status.PENDING)
        .first()
    )
    if locked is not None:
        _change_close(locked, Status.CANCELLED, now)


def _check_code(
    change: ContactPointChange, code: str, now: datetime.datetime
) -> str | None:
    """None when ``code`` is right; else what to tell the patient, after
    counting the wrong code (and voiding the change at MAX_WRONG_CODES)."""
    if change.code_expires_at is None or change.code_expires_at <= now:
        return _("This code has expired. Ask for a new one.")
    code = "".join((code or "").split())
    if change.code_hash and constant_time_compare(
        change.code_hash, _code_hash(change, code)
    ):
        return None
    change.failed_attempts += 1
    change.save(update_fields=["failed_attempts"])
    left = MAX_WRONG_CODES - change.failed_attempts
    if left <= 0:
        _change_close(change, Status.LOCKED, now)
        return _(
            "Too many wrong codes: this change is cancelled. Start again to get "
            "a new code."
        )
    return ngettext(
        "That code is not right. You have %(left)s more try.",
        "That code is not right. You have %(left)s more tries.",
        left,
    ) % {"left": left}


def contact_change_confirm(
    *,
    change: ContactPointChange,
    code: str,
    actor: Any,
    now: datetime.datetime | None = None,
) -> Patient:
    """Apply a pending change if ``code`` is its current code; returns the
    updated patient.

    On the right code, in one transaction: the patient's email or mobile
    number changes (``patient_update``), the new address is marked verified,
    the code stops working, the admin history of the patient records who
    changed what, and the old address (when there was a verified one) gets a
    notice. Raises ContactChangeError otherwise: a change no longer waiting,
    an expired code, a wrong code (counted, committed; the MAX_WRONG_CODES-th
    voids the change).
    """
    now = now or timezone.now()
    with transaction.atomic():
        _lock_patient(change.patient)  # first, in the same order as requests
        locked = _lock_pending(change, now)
        problem = _check_code(locked, code, now)
        if problem is None:
            return _apply(locked, actor, now)
    raise ContactChangeError(problem)


def _apply(change: ContactPointChange, actor: Any, now: datetime.datetime) -> Patient:
    patient = _lock_patient(change.patient)
    kind, new_value = change.kind, change.new_value
    old_value = _current(patient, kind)
    preferences = preferences_get(patient=patient)
    old_verified = contact_point_is_verified(preferences=preferences, kind=kind)
    field = "email" if kind == Kind.EMAIL else "phone"
    try:
        patient = patient_update(patient=patient, **{field: new_value})
    except ValidationError as error:
        logger.warning(
            "contact point change not saved: change=%s fields=%s",
            change.pk,
            ",".join(sorted(error.message_dict)),
        )
        raise ContactChangeError(
            _("We could not save this change. Please contact your clinic.")
        ) from None
    contact_point_verified(patient=patient, kind=kind, at=now)
    _change_close(change, Status.CONFIRMED, now)
    if getattr(actor, "pk", None):
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[patient],
            action_flag=CHANGE,
            change_message=LOG_MESSAGES[kind],
            single_object=True,
        )
    if old_value and old_verified:
        _notify_old_address(patient, change, old_value, now)
    return patient


def _notice_text(
    patient: Patient, kind: str, now: datetime.datetime
) -> tuple[str, str]:
    with (
        translation.override(patient.preferred_language or None),
        timezone.override(patient.time_zone),
    ):
        when = formats.date_format(timezone.localtime(now), "DATETIME_FORMAT")
        if kind == Kind.EMAIL:
            subject = _("Your email address was changed")
            text = _(
                "The email address of your patient portal account was changed on "
                "%(when)s. Messages now go to the new address.\n\n"
                "If you did not make this change, contact your clinic at once."
            )
        else:
            subject = ""
            text = _(
                "Liaison: the mobile number of your patient portal account was "
                "changed on %(when)s. If you did not make this change, contact "
                "your clinic at once."
            )
        return subject, text % {"when": when}


def _notify_old_address(
    patient: Patient,
    change: ContactPointChange,
    old_value: str,
    now: datetime.datetime,
) -> None:
    """Tell the old address its place was taken; a failure here is logged and
    does not undo the change."""
    topic = _security_topic(patient, change.channel)
    if topic is None:
        logger.warning("contact change notice: no security topic change=%s", change.pk)
        return
    subject, text = _notice_text(patient, change.kind, now)
    try:
        with transaction.atomic():
            message_send(
                patient=patient,
                topic=topic,
                origin="system",
                text=text,
                subject=subject,
                idempotency_key=f"contact-point-changed:{change.public_id}",
                channels=[change.channel],
                address=old_value,
            )
    except (ConsentError, MessageContentError, ValueError) as error:
        logger.warning(
            "contact change notice not planned: change=%s error=%s",
            change.pk,
            type(error).__name__,
        )


def contact_changes_erase(patient: Patient) -> int:
    """GDPR erasure: forget the addresses of the patient's changes and end
    the pending ones; returns rows changed. Idempotent."""
    now = timezone.now()
    changes = ContactPointChange.objects.filter(patient=patient)
    rows = changes.filter(status=Status.PENDING).update(
        status=Status.CANCELLED, finished_at=now
    )
    rows += changes.exclude(new_value="", code_hash="").update(
        new_value="", code_hash=""
    )
    return rows
