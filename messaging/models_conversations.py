"""What staff keep beside a conversation: internal notes and saved replies."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Language, Organization
from clinic.scoping import OrganizationScopedQuerySet
from messaging.rendering import TemplateContentError, check_syntax


class ConversationNote(models.Model):
    """A note staff leave on a conversation for each other: never sent."""

    conversation = models.ForeignKey(
        "messaging.Conversation", on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "created_at"]
        verbose_name = _("internal note")
        verbose_name_plural = _("internal notes")

    def __str__(self) -> str:
        return self.body[:60]


class SavedReplyQuerySet(OrganizationScopedQuerySet):
    pass


class SavedReply(models.Model):
    """A reply staff reuse; ``{{ variables }}`` as in templates."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(_("title"), max_length=120)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    body = models.TextField(_("text"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SavedReplyQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "title"]
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        try:
            check_syntax(self.body)
        except TemplateContentError as error:
            raise ValidationError({"body": str(error)}) from error
