import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.scopes import Scope
from clinic.models import Organization
from clinic.scoping import OrganizationScopedQuerySet


class ApiKeyQuerySet(OrganizationScopedQuerySet):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A partner system's key. Only a hash of the secret is stored; the key is
    shown once, when it is created (``api.keys.api_key_create``)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("organization"),
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("Who uses it, e.g. “EHR sync”.")
    )
    # The first characters of the key, shown in admin and logs to tell keys apart.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(
        _("key hash"), max_length=64, unique=True, editable=False
    )
    scopes = models.JSONField(_("scopes"), default=list)
    # What the key may send, by the topic's purpose (care, marketing,
    # feedback; never security): at most what its creator's role may
    # (clinic.roles.ROLE_PURPOSES), checked again at every send.
    purposes = models.JSONField(
        _("topic purposes"),
        default=list,
        blank=True,
        help_text=_("The purposes of the topics this key may send messages on."),
    )
    rate_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        default=600,
        help_text=_("Requests beyond this answer 429 with Retry-After."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_send(self, purpose: str) -> bool:
        return purpose in self.purposes

    def scope_labels(self) -> str:
        labels = dict(Scope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in self.scopes)

    @property
    def actor_label(self) -> str:
        """How the access audit names this key to the patient."""
        return f"API key {self.name}"[:200]


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``, replayed to a
    retry with the same body (``api.idempotency``)."""

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="+", verbose_name=_("API key")
    )
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    # Null while the first request is still being handled.
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True)
    response_body = models.BinaryField(_("response body"), default=b"")
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    location = models.CharField(_("location"), max_length=500, blank=True)
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, db_index=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="api_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.key


# --- Outbound webhooks (api/webhooks/) ---------------------------------------


class WebhookEvent(models.TextChoices):
    """What a partner can subscribe to (payloads in docs/api.md#webhooks)."""

    DELIVERY_UPDATED = "delivery.updated", "delivery.updated"
    MESSAGE_RECEIVED = "message.received", "message.received"
    APPOINTMENT_CONFIRMED = "appointment.confirmed", "appointment.confirmed"
    APPOINTMENT_CANCELLED = "appointment.cancelled", "appointment.cancelled"
    CONSENT_CHANGED = "consent.changed", "consent.changed"
    SURVEY_COMPLETED = "survey.completed", "survey.completed"


class WebhookSubscriptionQuerySet(OrganizationScopedQuerySet):
    def receiving(self) -> "WebhookSubscriptionQuerySet":
        """Subscriptions that get new events: active (a flagged one is not)."""
        return self.filter(is_active=True)


class WebhookSubscription(models.Model):
    """A partner's URL that receives the events it chose, signed with ``secret``.

    The secret must be kept readable (HMAC signs with it; a hash cannot), so it
    is stored encrypted under ``CREDENTIALS_KEY`` (``messaging.credentials``),
    shown once, when made, and never again by the API or admin: they show
    its last four characters to tell it apart.
    """

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        verbose_name=_("organization"),
    )
    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("HTTPS, on a public address."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list)
    # A Fernet token (messaging.credentials), never the secret itself.
    secret_encrypted = models.TextField(_("secret encrypted"), editable=False)
    secret_last4 = models.CharField(
        _("last four characters of the secret"), max_length=4, editable=False
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Reactivating a flagged subscription clears the flag."),
    )
    flagged_at = models.DateTimeField(_("flagged"), null=True, blank=True)
    flagged_reason = models.CharField(_("why flagged"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_by_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created with API key"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WebhookSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "created_at", "id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        indexes = [
            # Emitting an event: the organization's receiving subscriptions.
            models.Index(
                fields=["organization", "is_active"], name="api_webhooksub_receiving"
            ),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        """The signing secret, decrypted; raises SecretUnreadable (or
        CredentialsKeyMissing) when CREDENTIALS_KEY cannot read it."""
        from messaging.credentials import secret_decrypt

        return secret_decrypt(self.secret_encrypted)

    def secret_set(self, secret: str) -> None:
        """Keep ``secret`` encrypted (unsaved); raises CredentialsKeyMissing
        without a key."""
        from messaging.credentials import secret_encrypt

        self.secret_encrypted = secret_encrypt(secret)
        self.secret_last4 = secret[-4:]

    @property
    def secret_hint(self) -> str:
        return f"…{self.secret_last4}" if self.secret_last4 else ""


class WebhookDeliveryQuerySet(OrganizationScopedQuerySet):
    organization_path = "subscription__organization"


class WebhookDelivery(models.Model):
    """One event for one subscription, and its attempts: retried with back-off
    for a day after it was made (``api.webhooks.sending``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    # Sent as Liaison-Delivery, the same on every retry: receivers de-duplicate on it.
    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    # The body sent (ids, statuses and reasons only, never message text).
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Held by the worker sending it; an expired lease is due again.
    lease_expires_at = models.DateTimeField(
        _("lease expires at"), null=True, blank=True
    )
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(
        _("last response code"), null=True, blank=True
    )
    error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    replay_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replays",
        verbose_name=_("replay of"),
    )
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, db_index=True
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            # The due finder: pending rows by next attempt.
            models.Index(
                fields=["status", "next_attempt_at"], name="api_webhookdelivery_due"
            ),
            # A subscription's delivery log, newest first.
            models.Index(
                fields=["subscription", "-created_at", "-id"],
                name="api_webhookdelivery_log",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.public_id}"
