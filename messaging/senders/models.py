"""Sender identities: the number (and provider account) each organization's SMS
and calls leave from, and the number its patients text.

Tenancy reaches the phone network through them: an outbound SMS or call of an
organization leaves from its identity for the provider that carries it, and
an inbound SMS is routed by the identity it was sent to (docs/messaging.md,
"Sender identities").
"""

import re

from phonenumber_field.modelfields import PhoneNumberField

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization
from clinic.scoping import OrganizationScopedQuerySet

TWILIO_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
TWILIO_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
SINCH_SERVICE_PLAN_ID = re.compile(r"[0-9A-Za-z]{1,64}")


class SenderProvider(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    SINCH = "sinch", "Sinch"


class SenderIdentityQuerySet(OrganizationScopedQuerySet):
    def receiving(
        self, *, provider: str, to_number: str, messaging_service_sid: str = ""
    ):
        """Identities of ``provider`` an inbound message to ``to_number`` (or
        through that Twilio Messaging Service) was sent to: none, one, or
        several when data written outside admin shares a number."""
        receives = Q(phone_number=to_number) if to_number else Q(pk__in=[])
        if messaging_service_sid:
            receives |= Q(messaging_service_sid=messaging_service_sid)
        return self.filter(receives, provider=provider)


class SenderIdentity(models.Model):
    """One organization's sender for one provider.

    ``phone_number`` is the SMS sender, the caller id of calls and the number
    patients text; with a Twilio ``messaging_service_sid`` SMS leave from the
    service's pool instead (inbound through the service carries its SID).
    ``account_id`` and the secret name the provider account (blank: the
    platform's, from the environment); the secret is stored encrypted
    (``messaging.credentials``) and never shown back.
    """

    Provider = SenderProvider

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="sender_identities",
        verbose_name=_("organization"),
    )
    provider = models.CharField(
        _("provider"), max_length=16, choices=SenderProvider.choices
    )
    phone_number = PhoneNumberField(
        _("phone number"),
        help_text=_(
            "E.164, e.g. +33612345678: the number SMS and calls come from and "
            "the one patients text."
        ),
    )
    messaging_service_sid = models.CharField(
        _("Twilio Messaging Service SID"),
        max_length=34,
        blank=True,
        help_text=_(
            "Twilio only (MG…): SMS then leave from the service's numbers; calls "
            "still come from the phone number."
        ),
    )
    account_id = models.CharField(
        _("account"),
        max_length=64,
        blank=True,
        help_text=_(
            "Twilio account SID (AC…) or Sinch service plan id. Leave blank to "
            "use the platform's account."
        ),
    )
    # A Fernet token (messaging.credentials), never the secret itself.
    secret_encrypted = models.TextField(
        _("secret encrypted"), blank=True, editable=False
    )
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SenderIdentityQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "provider"]
        verbose_name = _("sender identity")
        verbose_name_plural = _("sender identities")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider"],
                name="messaging_sender_one_per_provider",
                violation_error_message=_(
                    "This organization already has a sender for this provider."
                ),
            ),
        ]
        indexes = [
            # Inbound routing: the identities receiving at a number.
            models.Index(
                fields=["provider", "phone_number"], name="messaging_sender_number"
            ),
            models.Index(
                fields=["provider", "messaging_service_sid"],
                condition=~Q(messaging_service_sid=""),
                name="messaging_sender_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.phone_number}"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if self.provider == SenderProvider.TWILIO:
            if self.account_id and not TWILIO_ACCOUNT_SID.fullmatch(self.account_id):
                errors.setdefault("account_id", []).append(
                    _("A Twilio account SID is AC followed by 32 hexadecimal digits.")
                )
            if (
                self.messaging_service_sid
                and not TWILIO_MESSAGING_SERVICE_SID.fullmatch(
                    self.messaging_service_sid
                )
            ):
                errors.setdefault("messaging_service_sid", []).append(
                    _(
                        "A Messaging Service SID is MG followed by 32 hexadecimal digits."
                    )
                )
        else:
            if self.messaging_service_sid:
                errors.setdefault("messaging_service_sid", []).append(
                    _("Only Twilio has Messaging Services.")
                )
            if self.account_id and not SINCH_SERVICE_PLAN_ID.fullmatch(self.account_id):
                errors.setdefault("account_id", []).append(
                    _("A Sinch service plan id is made of letters and digits.")
                )
        errors |= self._shared_with_another_organization()
        if errors:
            raise ValidationError(errors)

    def _shared_with_another_organization(self) -> dict[str, list]:
        """A number or Messaging Service another organization receives on for
        this provider would make inbound messages unroutable: refused here
        (routing still sends a shared one to the platform queue)."""
        if not self.provider or not self.organization_id:
            return {}
        others = SenderIdentity.objects.filter(provider=self.provider).exclude(
            organization_id=self.organization_id
        )
        errors: dict[str, list] = {}
        # The other organization is not named: staff must not learn of it.
        if self.phone_number and others.filter(phone_number=self.phone_number).exists():
            errors["phone_number"] = [
                _(
                    "Another organization already uses this number with this "
                    "provider: patients' replies could not be routed."
                )
            ]
        if (
            self.messaging_service_sid
            and others.filter(messaging_service_sid=self.messaging_service_sid).exists()
        ):
            errors["messaging_service_sid"] = [
                _("Another organization already uses this Messaging Service.")
            ]
        return errors
