"""Messages and their deliveries: the outbox of the send pipeline.

A Message is what the clinic says to one patient; a Delivery is that message
on one channel. Delivery rows are written in the same transaction as their
Message and are the truth about what was sent, deferred or not sent, and why.
"""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Language, Organization, Patient
from clinic.scoping import OrganizationScopedQuerySet
from consent.keywords import keyword_invitations_error
from consent.models import Topic
from consent.vocabulary import Channel, Purpose, Reason
from messaging.delivery_copies import copy_message_fields
from messaging.rendering import TemplateContentError, check_syntax, variables_used
from messaging.variables import VARIABLES

# Crockford's base32 without look-alikes: a code read aloud or typed from an
# SMS survives 0/O and 1/I/L confusion.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def authenticity_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class Sensitivity(models.TextChoices):
    PUBLIC = "public", _("Public: may appear in SMS, email and calls")
    CONFIDENTIAL = "confidential", _("Confidential: the secure inbox only")


class TemplateQuerySet(OrganizationScopedQuerySet):
    organization_path = "topic__organization"


class Template(models.Model):
    """What a topic says on one channel in one language."""

    topic = models.ForeignKey(
        Topic,
        on_delete=models.CASCADE,
        related_name="templates",
        verbose_name=_("topic"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    sensitivity = models.CharField(
        _("sensitivity"),
        max_length=16,
        choices=Sensitivity.choices,
        default=Sensitivity.PUBLIC,
    )
    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("Email and inbox only.")
    )
    body = models.TextField(_("text"))
    body_html = models.TextField(_("HTML (email)"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        ordering = ["topic", "channel", "language"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "channel", "language"],
                name="messaging_template_unique_variant",
                violation_error_message=_(
                    "This topic already has a template for this channel and language."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} · {self.get_channel_display()} · {self.language}"

    def texts(self) -> dict[str, str]:
        return {"subject": self.subject, "body": self.body, "body_html": self.body_html}

    def clean(self) -> None:
        errors: dict[str, list] = {}
        for field, text in self.texts().items():
            try:
                check_syntax(text)
            except TemplateContentError as exc:
                errors.setdefault(field, []).append(str(exc))
        clinical = sorted(
            name
            for text in self.texts().values()
            for name in variables_used(text)
            if name in VARIABLES and VARIABLES[name].clinical
        )
        if (
            clinical
            and self.sensitivity == Sensitivity.PUBLIC
            and self.channel != Channel.INAPP
        ):
            errors.setdefault("sensitivity", []).append(
                _(
                    "Health data cannot leave the secure inbox: %(variables)s is "
                    "clinical. Mark the template confidential or remove it."
                )
                % {"variables": ", ".join(clinical)}
            )
        if self.topic_id and self.topic.purpose == Purpose.SECURITY and clinical:
            errors.setdefault("body", []).append(
                _("Security messages never carry health data.")
            )
        # A voice call comes from the clinic's number too: "text CANCEL to
        # cancel" heard on a call reaches the same carrier filter.
        if self.channel in (Channel.SMS, Channel.VOICE) and (
            misread := keyword_invitations_error(self.body)
        ):
            errors.setdefault("body", []).append(misread)
        if errors:
            raise ValidationError(errors)


class MessageQuerySet(OrganizationScopedQuerySet):
    def for_inbox(self, patient: Patient):
        return self.filter(patient=patient)


class Message(models.Model):
    class Origin(models.TextChoices):
        API = "api", _("Partner system")
        REMINDER = "reminder", _("Reminder")
        CAMPAIGN = "campaign", _("Campaign")
        STAFF = "staff", _("Clinic staff")
        SYSTEM = "system", _("System")
        PATIENT = "patient", _("Patient")

    class Direction(models.TextChoices):
        OUTBOUND = "out", _("To the patient")
        INBOUND = "in", _("From the patient")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    # No index of their own where a wider one leads with the column
    # (organization: the authenticity code's unique index; patient:
    # messaging_msg_patient), and partial ones for the two mostly empty
    # relations (Meta.indexes): every index is written for each message, and
    # a campaign writes 100,000 at a time.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        verbose_name=_("patient"),
    )
    topic = models.ForeignKey(
        Topic, on_delete=models.PROTECT, related_name="+", verbose_name=_("topic")
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
        verbose_name=_("conversation"),
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("sender"),
    )
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    origin_ref = models.CharField(
        _("sent by"),
        max_length=200,
        blank=True,
        help_text=_("The campaign, rule or API key that sent it."),
    )
    direction = models.CharField(
        _("direction"),
        max_length=3,
        choices=Direction.choices,
        default=Direction.OUTBOUND,
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, blank=True)
    sensitivity = models.CharField(
        _("sensitivity"), max_length=16, choices=Sensitivity.choices
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(
        _("text"), help_text=_("The full text, shown in the secure inbox.")
    )
    # The text with its secret (a one-time code, a single-use link) where
    # ``body`` shows it masked (messaging.redaction): kept for fallbacks
    # until the secret expires, shown to no one, erased set-wise
    # (messaging.services.redaction). Written with the row (COPY included).
    secret_body = models.TextField(
        _("secret body"), blank=True, default="", db_default="", editable=False
    )
    secret_expires_at = models.DateTimeField(
        _("secret expires at"), null=True, blank=True, editable=False
    )
    context = models.JSONField(
        _("context"),
        default=dict,
        blank=True,
        help_text=_("The values the templates were rendered with, for fallbacks."),
    )
    why = models.JSONField(
        _("why"),
        default=dict,
        blank=True,
        help_text=_(
            "Why the patient receives it: purpose, lawful basis, consent event."
        ),
    )
    free_text = models.BooleanField(
        _("free text"),
        default=False,
        help_text=_("Written by hand rather than from the topic's templates."),
    )
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    authenticity_code = models.CharField(
        _("authenticity code"), max_length=8, default=authenticity_code_new
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    escalate_to_staff_at = models.DateTimeField(
        _("escalate to staff at"),
        null=True,
        blank=True,
        help_text=_("When an unread message becomes a staff task."),
    )
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    hidden_from_proxies_at = models.DateTimeField(
        _("hidden from caregivers at"),
        null=True,
        blank=True,
        help_text=_(
            "Set by the patient in the portal: people acting for them no longer "
            "see this message, nor the rest of its conversation."
        ),
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="messaging_message_unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["organization", "authenticity_code"],
                name="messaging_message_unique_authenticity_code",
            ),
        ]
        indexes = [
            # The inbox and "messages of a patient", newest first.
            models.Index(
                fields=["patient", "-created_at"], name="messaging_msg_patient"
            ),
            # Only messages in a conversation, only messages staff wrote: the
            # rest (most rows) are not in these indexes. Lookups by a value
            # (a conversation's messages, SET_NULL on a deleted user) can use
            # them, since "= value" implies "IS NOT NULL".
            models.Index(
                fields=["conversation"],
                condition=Q(conversation__isnull=False),
                name="messaging_msg_conversation",
            ),
            models.Index(
                fields=["sender"],
                condition=Q(sender__isnull=False),
                name="messaging_msg_sender",
            ),
            # The sweep of expired secrets: only messages still holding one.
            models.Index(
                fields=["secret_expires_at"],
                condition=~Q(secret_body=""),
                name="messaging_msg_secret_expiry",
            ),
        ]

    def __str__(self) -> str:
        return _("message %(id)s") % {"id": self.public_id}

    @property
    def deliveries_in_order(self) -> list["Delivery"]:
        """Its deliveries in the order they were planned (the inbox first,
        then the channel chosen, then fallbacks); uses a prefetch if any."""
        return sorted(self.deliveries.all(), key=lambda delivery: delivery.pk)


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DEFERRED = "deferred", _("Deferred")
    SUPPRESSED = "suppressed", _("Not sent")
    SENDING = "sending", _("Sending")
    UNKNOWN = "unknown", _("Unknown: being checked with the provider")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")
    CANCELLED = "cancelled", _("Cancelled")


# How far along a delivery is: status callbacks only ever move it forward.
STATUS_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.DEFERRED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.UNKNOWN: 2,
    DeliveryStatus.SENT: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.FAILED: 4,
    DeliveryStatus.BOUNCED: 4,
    DeliveryStatus.READ: 5,
    DeliveryStatus.SUPPRESSED: 6,
    DeliveryStatus.CANCELLED: 6,
}
FINAL_STATUSES = {
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.READ,
}


class DeliveryReason(models.TextChoices):
    """Why a delivery was not sent: consent's reasons plus the pipeline's own."""

    # consent.vocabulary.Reason values are valid here too (same words).
    ALREADY_READ = "already_read", _("Already read on another channel")
    PROVIDER_REJECTED = "provider_rejected", _("The provider refused the address")
    RETRIES_EXHAUSTED = "retries_exhausted", _("The provider kept failing")
    NO_BACKEND = "no_backend", _("This channel is not configured")
    NO_TEMPLATE = "no_template", _("No template for this channel")
    ESCALATION = "escalation", _("Waiting: sent only if the message stays unread")
    MERGED = "merged", _("Sent in one SMS with another reminder of the same day")
    NO_SENDER = (
        "no_sender",
        _("The organization has no sender identity for this provider"),
    )
    UNKNOWN_OUTCOME = (
        "unknown_outcome",
        _("The provider never told whether it was sent: check before resending"),
    )
    SECRET_EXPIRED = (
        "secret_expired",
        _("The code or link it carried expired before it could be sent"),
    )


REASON_LABELS = {**dict(Reason.choices), **dict(DeliveryReason.choices)}


class DeliveryQuerySet(OrganizationScopedQuerySet):
    # The message's organization, copied onto the row (delivery_copies): the
    # delivery log is scoped without joining messages.
    organization_path = "organization"

    def due(self, now):
        """Rows a worker may claim: queued or deferred whose time has come, an
        unknown outcome due for reconciliation, or a sending row whose lease
        expired (its worker died mid-send: also an unknown outcome)."""
        return self.filter(
            Q(
                status__in=[
                    DeliveryStatus.QUEUED,
                    DeliveryStatus.DEFERRED,
                    DeliveryStatus.UNKNOWN,
                ],
                next_attempt_at__lte=now,
            )
            | Q(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)
        )

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        copy_message_fields(objs)
        return super().bulk_create(objs, *args, **kwargs)


class Delivery(models.Model):
    Status = DeliveryStatus

    # Indexed by the unique (message, channel), which leads with it.
    # No foreign-key constraint in the database (Django still cascades): its
    # check ran once per delivery at commit and locked the message row the
    # same transaction had just written (a WAL record each), a third of a
    # campaign page's commit. Every delivery is written with its message in
    # one transaction, but a fallback, which locks the message first
    # (``tracking.delivery_fallback``); a delivery whose message is gone is
    # never claimed (the claim joins the message). docs/messaging.md.
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
        verbose_name=_("message"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=254, blank=True)
    # A security code sent to an address the patient is proving (not yet on
    # the record): judged on that address and never moved to another channel.
    to_address_being_verified = models.BooleanField(
        _("to address being verified"), default=False
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.QUEUED,
    )
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(
        _("body"), blank=True, help_text=_("What this channel carries.")
    )
    body_html = models.TextField(_("HTML body"), blank=True)
    # The texts with their secret, for the backend only: erased once the
    # delivery is final or the secret expires (Message.secret_body).
    secret_body = models.TextField(
        _("secret body"), blank=True, default="", db_default="", editable=False
    )
    secret_body_html = models.TextField(
        _("secret HTML body"), blank=True, default="", db_default="", editable=False
    )
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    provider_id = models.CharField(_("provider ID"), max_length=128, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True
    )
    # When the holder last confirmed its claim to call the provider: the
    # call starts at most claims.CONFIRMATION_SECONDS later. A provider may
    # list an accepted message only some time after it (Twilio), so until
    # then "not found" cannot mean "not sent" (delivering._reconcile).
    attempted_at = models.DateTimeField(_("attempted at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Copies of the message's organization and creation time, written with
    # the row (messaging.delivery_copies; the COPY writer writes them itself) and
    # never changed: the dashboard counts a period's deliveries per channel
    # from one index (messaging_delivery_org_msg_at) without joining
    # messages. A copy, not a relation: no constraint to check per row.
    organization = models.ForeignKey(
        Organization,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        editable=False,
        verbose_name=_("organization"),
    )
    message_created_at = models.DateTimeField(_("message created at"), editable=False)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("delivery log")
        constraints = [
            models.UniqueConstraint(
                fields=["message", "channel"], name="messaging_delivery_one_per_channel"
            ),
        ]
        indexes = [
            # Workers: due rows by status and time.
            models.Index(
                fields=["status", "next_attempt_at"], name="messaging_delivery_due"
            ),
            # Provider callbacks find their delivery by the provider's id.
            models.Index(
                fields=["provider", "provider_id"], name="messaging_delivery_provider"
            ),
            # The KPI dashboard: deliveries of the messages created in a
            # period, counted per channel and status from the index alone
            # (insights.kpis.deliveries.delivery_and_read_rates).
            models.Index(
                fields=["organization", "message_created_at", "channel", "status"],
                name="messaging_delivery_org_msg_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"

    def save(self, *args, **kwargs):
        # New rows only: a row read with .only() would load the field to check.
        if self._state.adding and self.message_created_at is None:
            copy_message_fields([self])
        super().save(*args, **kwargs)

    @property
    def reason_label(self) -> str:
        return str(REASON_LABELS.get(self.reason, self.reason))


class StatusCallback(models.Model):
    """A provider status callback already applied: duplicates change nothing."""

    provider = models.CharField(_("provider"), max_length=32)
    provider_id = models.CharField(_("provider ID"), max_length=128)
    status = models.CharField(_("status"), max_length=32)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_id", "status"],
                name="messaging_callback_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_id} {self.status}"


class OutboxEntry(models.Model):
    """What the ``outbox`` backends would have sent: staff watch it in admin."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        verbose_name=_("organization"),
    )
    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("delivery"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    to = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OrganizationScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("outbox entry")
        verbose_name_plural = _("outbox (development)")

    def __str__(self) -> str:
        return _("%(channel)s to %(to)s") % {
            "channel": self.get_channel_display(),
            "to": self.to,
        }


class UnmatchedInboundQuerySet(OrganizationScopedQuerySet):
    pass


class UnmatchedInbound(models.Model):
    """An SMS nobody's: from a number that matches no patient of the
    organization it was sent to (``organization`` set: that organization's
    staff handle it), or sent to a number that names no single organization
    (``organization`` NULL: the platform queue, which only superusers see)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organization"),
    )
    provider = models.CharField(_("provider"), max_length=32)
    provider_message_id = models.CharField(_("provider message ID"), max_length=128)
    to_number = models.CharField(_("to"), max_length=32)
    from_number = models.CharField(_("from"), max_length=32)
    text = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )

    objects = UnmatchedInboundQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("unmatched SMS")
        verbose_name_plural = _("unmatched SMS")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                name="messaging_unmatched_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_message_id}"


# Sender identities and inbound receipts live in their own packages (one
# folder per sub-domain); imported here so Django registers them.
from messaging.receipts.models import (  # noqa: E402, F401
    InboundOutcome,
    InboundReceipt,
    WebhookToken,
)
from messaging.senders.models import (  # noqa: E402, F401
    SenderIdentity,
    SenderProvider,
)
