"""Conversations: one thread per patient across channels, and what staff keep
beside it (internal notes, saved replies).

The models came from ``messaging`` and keep its tables (``Meta.db_table``), so
the move changed no data (docs/architecture.md, "Conversations").
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import Language, Organization, Patient
from clinic.scoping import OrganizationScopedQuerySet
from consent.keywords import keyword_invitations_error
from consent.vocabulary import Channel
from messaging.rendering import TemplateContentError, check_syntax


class ConversationQuerySet(OrganizationScopedQuerySet):
    def overdue(self, now):
        """Not closed, never answered, and past the first response's due time."""
        return self.filter(
            first_response_at__isnull=True, first_response_due_at__lt=now
        ).exclude(status=Conversation.Status.CLOSED)


class Conversation(models.Model):
    """One thread between a patient and the organization, across every channel."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Waiting for the patient")
        CLOSED = "closed", _("Closed")

    class Kind(models.TextChoices):
        QUESTION = "question", _("Question")
        COMPLAINT = "complaint", _("Complaint")
        FOLLOW_UP = "follow_up", _("Feedback follow-up")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="conversations",
        verbose_name=_("patient"),
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=Kind.choices, default=Kind.QUESTION
    )
    site = models.ForeignKey(
        "clinic.Site",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    team = models.ForeignKey(
        "clinic.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("team"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    # The channel the patient last wrote on: a staff reply goes back on it
    # (or to the portal inbox when the content is confidential).
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, default=Channel.INAPP
    )
    last_message_at = models.DateTimeField(_("last message at"), default=timezone.now)
    # Service levels (issue 8): when the patient first wrote and waits for an
    # answer, by when staff should answer, when they did.
    awaiting_since = models.DateTimeField(_("awaiting since"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(
        _("first response due"), null=True, blank=True
    )
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    staff_reply_count = models.PositiveIntegerField(_("staff reply count"), default=0)
    reopened_count = models.PositiveIntegerField(_("reopened count"), default=0)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        db_table = "messaging_conversation"
        ordering = ["-last_message_at"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # The inbox: a patient's conversations, newest first.
            models.Index(
                fields=["patient", "-last_message_at"], name="messaging_conv_patient"
            ),
            # The staff queue and the dashboard: an organization's threads by time.
            models.Index(
                fields=["organization", "created_at"], name="messaging_conv_org_created"
            ),
        ]

    def __str__(self) -> str:
        return self.subject or str(self.public_id)


class ConversationNote(models.Model):
    """A note staff leave on a conversation for each other: never sent."""

    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        related_name="notes",
        verbose_name=_("conversation"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("note"), max_length=4000)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "messaging_conversationnote"
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
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    title = models.CharField(_("title"), max_length=120)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    body = models.TextField(_("text"), max_length=2000)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SavedReplyQuerySet.as_manager()

    class Meta:
        db_table = "messaging_savedreply"
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
        # A saved reply may leave by SMS (the conversation's channel).
        if misread := keyword_invitations_error(self.body):
            raise ValidationError({"body": misread})
