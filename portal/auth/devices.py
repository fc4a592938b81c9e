"""Second-factor devices whose codes travel through the messaging pipeline.

A code goes out with ``message_send`` on the organization's ``security`` topic,
so consent applies (security messages go to verified contact points only) and
development shows it in the outbox. The code is a secret of the message
(``messaging.redaction``): staff see it masked, and it is erased from stored
bodies once sent or expired. Codes are single-use, expire after
``OTP_CODE_VALIDITY`` seconds and wrong ones slow further tries down
(django-otp's ThrottlingMixin).
"""

from __future__ import annotations

import hashlib

from django_otp.models import (
    CooldownMixin,
    SideChannelDevice,
    ThrottlingMixin,
    TimestampMixin,
)

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from clinic.models import Patient
from messaging.models import DeliveryStatus

NOT_ON_ITS_WAY = (
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
)


class CodeNotSentError(Exception):
    """The code could not go out: no patient record, no security topic, or the
    cool-down since the previous code has not passed."""


class CodeNotDeliveredError(CodeNotSentError):
    """The pipeline planned no delivery of the code (the address bounced and is
    marked invalid, or is no longer verified): nothing is on its way."""

    def __init__(self, channel: str):
        self.channel = channel
        if channel == "sms":
            text = gettext(
                "We could not send you a code by SMS: your mobile number does "
                "not receive our messages."
            )
        else:
            text = gettext(
                "We could not send you a code by email: your email address "
                "does not receive our messages."
            )
        super().__init__(text)


class MessagingCodeDevice(
    TimestampMixin, CooldownMixin, ThrottlingMixin, SideChannelDevice
):
    channel = ""  # set by subclasses: the contact point the code is meant for

    class Meta:
        abstract = True

    def patient(self) -> Patient | None:
        return (
            Patient.objects.filter(user_id=self.user_id, erased_at__isnull=True)
            .select_related("organization")
            .first()
        )

    def generate_challenge(self) -> str:
        """Send a new code; returns a message for the patient. Raises CodeNotSentError."""
        from consent.models import Topic
        from consent.vocabulary import Purpose
        from messaging.services.sending import message_send

        allowed, _data = self.generate_is_allowed()
        if not allowed:
            raise CodeNotSentError(
                gettext(
                    "A code was sent a moment ago. Wait a little before asking again."
                )
            )
        patient = self.patient()
        if patient is None:
            raise CodeNotSentError(gettext("Codes by message need a patient record."))
        topic = (
            Topic.objects.filter(
                organization_id=patient.organization_id, purpose=Purpose.SECURITY
            )
            .order_by("pk")
            .first()
        )
        if topic is None:
            raise CodeNotSentError(
                gettext("Your clinic cannot send security codes yet.")
            )
        self.cooldown_set(commit=False)
        self.generate_token(valid_secs=settings.OTP_CODE_VALIDITY, commit=True)
        minutes = max(1, settings.OTP_CODE_VALIDITY // 60)
        with translation.override(patient.preferred_language or None):
            text = gettext(
                "Your Liaison security code is %(code)s. It expires in %(minutes)s "
                "minutes. Never share it: the clinic will never ask for it."
            ) % {"code": "{{ code }}", "minutes": minutes}
        digest = hashlib.sha256(
            f"{self.token}:{self.valid_until.isoformat()}".encode()
        ).hexdigest()[:24]
        message = message_send(
            patient=patient,
            topic=topic,
            origin="system",
            text=text,
            # Marked secret: stored and shown masked, erased once sent or
            # expired (messaging.redaction).
            secrets={"code": self.token},
            secrets_expire_at=self.valid_until,
            idempotency_key=f"otp:{self.persistent_id}:{digest}",
            # By the device's own channel only: never another, never the inbox.
            channels=[self.channel],
        )
        # Consent may have refused the address (suppressed: invalid_address
        # after a bounce): say "sent" only when a delivery is on its way.
        if not message.deliveries.exclude(status__in=NOT_ON_ITS_WAY).exists():
            self.token = None
            self.save(update_fields=["token"])
            raise CodeNotDeliveredError(self.channel)
        return gettext("We sent you a code.")

    def verify_token(self, token) -> bool:
        allowed, _data = self.verify_is_allowed()
        if not allowed:
            return False
        verified = super().verify_token(token)  # single use: clears the token
        if verified:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return verified

    def get_cooldown_duration(self) -> int:
        return settings.OTP_CODE_COOLDOWN

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_CODE_THROTTLE_FACTOR", 1)


class EmailCodeDevice(MessagingCodeDevice):
    channel = "email"

    class Meta(MessagingCodeDevice.Meta):
        abstract = False
        app_label = "portal"
        verbose_name = _("code by email")
        verbose_name_plural = _("codes by email")


class SmsCodeDevice(MessagingCodeDevice):
    channel = "sms"

    class Meta(MessagingCodeDevice.Meta):
        abstract = False
        app_label = "portal"
        verbose_name = _("code by SMS")
        verbose_name_plural = _("codes by SMS")
