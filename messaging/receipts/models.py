"""Receipts of provider events taken in: one effect per provider message id."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization


class InboundOutcome(models.TextChoices):
    PENDING = "", _("Being handled")
    KEYWORD = "keyword", _("Consent keyword")
    ANSWER = "answer", _("Answer taken by a reply handler")
    MESSAGE = "message", _("Joined a conversation")
    UNMATCHED = "unmatched", _("Unmatched: kept for staff")
    PLATFORM = "platform", _("No single organization: platform queue")
    KEYPAD = "keypad", _("Keypad answer")
    IGNORED = "ignored", _("Nothing to do")


class InboundReceipt(models.Model):
    """A provider event (an SMS, a keypad answer) already taken in.

    Written first, inside the transaction that holds every effect of the
    event (``messaging.receipts.services.inbound_once``): a retry, or a duplicate
    arriving at the same instant, fails on the unique index (on PostgreSQL it
    waits for the first transaction, then fails) and does nothing, replies
    nothing. Kept as the record of what each event became.
    """

    Outcome = InboundOutcome

    provider = models.CharField(_("provider"), max_length=32)
    provider_message_id = models.CharField(_("provider message ID"), max_length=128)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organization"),
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=InboundOutcome.choices, blank=True
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                name="messaging_inbound_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_message_id}"


class WebhookToken(models.Model):
    """A provider's one-time signature token already seen (Mailgun's
    ``signature.token``): the unique index refuses it a second time, on every
    host that shares the database. Rows are deleted once their signed
    timestamp is too old for the signature to be accepted at all
    (``messaging.email.mailgun``)."""

    provider = models.CharField(_("provider"), max_length=32)
    token = models.CharField(_("token"), max_length=128)
    signed_at = models.DateTimeField(_("signed at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "token"], name="messaging_webhook_token_once"
            ),
        ]
        # The clean-up deletes by age.
        indexes = [
            models.Index(fields=["signed_at"], name="messaging_webhook_token_age")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.token}"
