"""Surveys staff build, the invitations patients receive and their answers.

An anonymous survey's responses keep no link to the patient nor to the
invitation (which names the patient): the invitation only records that it was
answered, so nobody can tell whose answers are whose.
"""

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization, Patient
from clinic.scoping import OrganizationScopedQuerySet
from consent.models import Topic


def _in_language(obj: models.Model, field: str, language: str | None = None) -> str:
    language = (language or get_language() or "en")[:2]
    value = getattr(obj, f"{field}_{language}", "") if language in ("fr", "en") else ""
    return value or getattr(obj, f"{field}_en") or getattr(obj, f"{field}_fr")


class SurveyQuerySet(OrganizationScopedQuerySet):
    pass


class Survey(models.Model):
    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Sent by staff")
        APPOINTMENT_FULFILLED = "appointment", _("After an appointment took place")
        CONVERSATION_CLOSED = "conversation", _("After a conversation is closed")
        CAMPAIGN = "campaign", _("After a campaign reached the patient")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="surveys",
        verbose_name=_("organization"),
    )
    name = models.CharField(_("name"), max_length=120, help_text=_("For staff only."))
    title_fr = models.CharField(_("title (French)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    intro_fr = models.TextField(_("introduction (French)"), blank=True)
    intro_en = models.TextField(_("introduction (English)"), blank=True)
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("topic"),
        help_text=_(
            "A feedback topic: its consent rules and templates send the invitations."
        ),
    )
    anonymous = models.BooleanField(
        _("anonymous"),
        default=False,
        help_text=_("Responses keep no link to the patient."),
    )
    trigger = models.CharField(
        _("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL
    )
    trigger_delay_hours = models.PositiveSmallIntegerField(
        _("delay after the trigger (hours)"), default=2
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("campaign"),
        help_text=_(
            "For the trigger “after a campaign reached the patient”: the patients "
            "this campaign's message reached are invited."
        ),
    )
    link_valid_days = models.PositiveSmallIntegerField(
        _("link valid for (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SurveyQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")

    def __str__(self) -> str:
        return self.name

    def title(self, language: str | None = None) -> str:
        return _in_language(self, "title", language)

    def intro(self, language: str | None = None) -> str:
        return _in_language(self, "intro", language)

    def clean(self) -> None:
        if (
            self.topic_id
            and self.organization_id
            and (
                self.topic.organization_id != self.organization_id
                or self.topic.purpose != "feedback"
            )
        ):
            raise ValidationError(
                {"topic": _("Choose a feedback topic of this organization.")}
            )
        self._clean_campaign()

    def _clean_campaign(self) -> None:
        if self.trigger != self.Trigger.CAMPAIGN:
            if self.campaign_id is not None:
                raise ValidationError(
                    {
                        "campaign": _(
                            "Only a survey sent after a campaign names a campaign."
                        )
                    }
                )
            return
        if self.campaign_id is None:
            raise ValidationError(
                {"campaign": _("Choose the campaign after which the survey is sent.")}
            )
        if self.organization_id and (
            self.campaign.organization_id != self.organization_id
        ):
            raise ValidationError(
                {"campaign": _("Choose a campaign of this organization.")}
            )


class Question(models.Model):
    class Kind(models.TextChoices):
        NPS = "nps", _("Recommendation (0–10)")
        CSAT = "csat", _("Satisfaction (1–5)")
        SINGLE = "single", _("One choice")
        MULTIPLE = "multiple", _("Several choices")
        TEXT = "text", _("Free text")

    #: The score range of each scored kind.
    SCALES = {Kind.NPS: (0, 10), Kind.CSAT: (1, 5)}

    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="questions",
        verbose_name=_("survey"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    text_fr = models.CharField(_("question (French)"), max_length=300)
    text_en = models.CharField(_("question (English)"), max_length=300)
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_(
            'For choice questions: [{"value": "parking", "fr": "Parking", "en": "Parking"}, …]'
        ),
    )
    required = models.BooleanField(_("required"), default=False)

    class Meta:
        ordering = ["survey", "position", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.text()

    def text(self, language: str | None = None) -> str:
        return _in_language(self, "text", language)

    def choice_labels(self, language: str | None = None) -> list[tuple[str, str]]:
        language = (language or get_language() or "en")[:2]
        return [
            (
                str(c["value"]),
                c.get(language) or c.get("en") or c.get("fr") or str(c["value"]),
            )
            for c in self.choices
        ]

    def clean(self) -> None:
        is_choice = self.kind in (self.Kind.SINGLE, self.Kind.MULTIPLE)
        if is_choice:
            valid = (
                isinstance(self.choices, list)
                and len(self.choices) >= 2
                and all(isinstance(c, dict) and c.get("value") for c in self.choices)
            )
            if not valid:
                raise ValidationError(
                    {"choices": _("Give at least two choices, each with a value.")}
                )
        elif self.choices:
            raise ValidationError({"choices": _("Only choice questions have choices.")})


class InvitationQuerySet(OrganizationScopedQuerySet):
    pass


class SurveyInvitation(models.Model):
    """One patient asked to answer one survey, by a link that works once."""

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("survey"),
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="survey_invitations",
        verbose_name=_("patient"),
    )
    # What triggered it ("appointment:<uuid>", "campaign:<id>"): one invitation per trigger.
    trigger_ref = models.CharField(_("trigger ref"), max_length=80, blank=True)
    # The site the experience happened at: a detractor's follow-up goes to its team.
    site = models.ForeignKey(
        "clinic.Site",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "patient", "trigger_ref"],
                condition=~models.Q(trigger_ref=""),
                name="feedback_invitation_once_per_trigger",
            )
        ]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="feedback_inv_patient")
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.patient_id}"

    def expires_after(self) -> datetime.timedelta:
        return datetime.timedelta(days=self.survey.link_valid_days)


class ResponseQuerySet(OrganizationScopedQuerySet):
    pass


class SurveyResponse(models.Model):
    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organization"),
    )
    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="responses",
        verbose_name=_("survey"),
    )
    # Both empty for an anonymous survey.
    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="survey_responses",
        verbose_name=_("patient"),
    )
    invitation = models.OneToOneField(
        SurveyInvitation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="response",
        verbose_name=_("invitation"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    complete = models.BooleanField(
        _("complete"), default=False, help_text=_("Every question was answered.")
    )
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("flagged by"),
    )
    follow_up = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("follow-up conversation"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [
            models.Index(
                fields=["organization", "submitted_at"], name="feedback_resp_org_at"
            )
        ]

    def __str__(self) -> str:
        return f"{self.survey} · {self.submitted_at:%Y-%m-%d}"


class Answer(models.Model):
    response = models.ForeignKey(
        SurveyResponse,
        on_delete=models.CASCADE,
        related_name="answers",
        verbose_name=_("response"),
    )
    question = models.ForeignKey(
        Question,
        on_delete=models.CASCADE,
        related_name="answers",
        verbose_name=_("question"),
    )
    score = models.SmallIntegerField(_("score"), null=True, blank=True)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        ordering = ["response", "question__position"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="feedback_answer_once"
            )
        ]

    def __str__(self) -> str:
        if self.score is not None:
            return str(self.score)
        return ", ".join(self.choices) or self.text[:50]


class ImprovementNoteQuerySet(OrganizationScopedQuerySet):
    def published(self) -> "ImprovementNoteQuerySet":
        return self.filter(published_at__isnull=False, published_at__lte=timezone.now())


class ImprovementNote(models.Model):
    """“You said, we did”: what the clinic changed after patients' feedback,
    published to its patients in the portal."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="improvement_notes",
        verbose_name=_("organization"),
    )
    site = models.ForeignKey(
        "clinic.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty for every site."),
        verbose_name=_("site"),
    )
    you_said_fr = models.TextField(_("you said (French)"), max_length=1000)
    you_said_en = models.TextField(_("you said (English)"), max_length=1000)
    we_did_fr = models.TextField(_("we did (French)"), max_length=1000)
    we_did_en = models.TextField(_("we did (English)"), max_length=1000)
    published_at = models.DateTimeField(
        _("published at"),
        null=True,
        blank=True,
        help_text=_("Patients see the note from then on; empty for a draft."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ImprovementNoteQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-created_at"]
        verbose_name = _("“you said, we did” note")
        verbose_name_plural = _("“you said, we did” notes")

    def __str__(self) -> str:
        return self.we_did_en[:60] or self.we_did_fr[:60]

    def you_said(self, language: str | None = None) -> str:
        return _in_language(self, "you_said", language)

    def we_did(self, language: str | None = None) -> str:
        return _in_language(self, "we_did", language)
