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
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("Who uses it, e.g. “EHR sync”.")
    )
    # The first characters of the key, shown in admin and logs to tell keys apart.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
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
    )
    created_at = models.DateTimeField(auto_now_add=True)
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

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # Null while the first request is still being handled.
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "key"], name="api_idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.key
