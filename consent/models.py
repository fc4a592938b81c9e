"""What patients allowed, what the organization permits, and what was sent.

``ConsentEvent`` is the append-only ledger; ``ConsentState`` is derived from it
for fast reads and can be rebuilt (``manage.py rebuild_consent_state``).
"""

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from clinic.models import Organization, Patient
from clinic.scoping import OrganizationScopedQuerySet
from consent.vocabulary import (
    Channel,
    PriorityClass,
    Purpose,
    Source,
    priority_class,
)


def default_voice_windows() -> list[dict]:
    # France (Code de la consommation, art. L.223-1 decree 2022): weekdays
    # 10:00-13:00 and 14:00-20:00 for marketing calls.
    return [
        {"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"},
        {"days": [0, 1, 2, 3, 4], "start": "14:00", "end": "20:00"},
    ]


def all_channels() -> list[str]:
    return list(Channel.values)


def validate_channels(value: list) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one channel."), code="no_channels")
    unknown = sorted(set(value) - set(Channel.values))
    if unknown:
        raise ValidationError(
            _("Unknown channel: %(channels)s."),
            code="unknown_channel",
            params={"channels": ", ".join(map(str, unknown))},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("A channel is listed twice."), code="duplicate_channel")


def validate_window(
    start: datetime.time | None, end: datetime.time | None, field: str
) -> dict:
    if start is not None and end is not None and start >= end:
        return {
            field: _(
                "The sending window must start before it ends (an empty or inverted "
                "window would never send)."
            )
        }
    return {}


def parse_clock(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


def validate_voice_windows(value: list) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Voice windows must be a list."), code="invalid")
    for window in value:
        try:
            days = window["days"]
            start, end = parse_clock(window["start"]), parse_clock(window["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                _(
                    'Each voice window needs "days" (0=Monday…6=Sunday), "start" and "end" (HH:MM).'
                ),
                code="invalid_voice_window",
            ) from exc
        if not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValidationError(
                _("Voice window days are numbers from 0 (Monday) to 6 (Sunday)."),
                code="invalid_voice_window_days",
            )
        if start >= end:
            raise ValidationError(
                _("A voice window must start before it ends."),
                code="inverted_voice_window",
            )


def validate_escalation_ladder(value: list) -> None:
    """Steps in increasing delay, each a channel or the staff task (last)."""
    if not isinstance(value, list):
        raise ValidationError(_("The ladder must be a list of steps."), code="invalid")
    previous = 0
    for index, step in enumerate(value):
        hours = step.get("after_hours") if isinstance(step, dict) else None
        if not isinstance(hours, int | float) or hours <= previous:
            raise ValidationError(
                _("Each step needs an after_hours larger than the step before."),
                code="ladder_order",
            )
        previous = hours
        if step.get("staff"):
            if index != len(value) - 1:
                raise ValidationError(
                    _("The staff task is the last step."), code="ladder_staff_last"
                )
        elif step.get("channel") not in Channel.values:
            raise ValidationError(
                _("Each step names a channel or is the staff task."),
                code="ladder_channel",
            )


class TopicQuerySet(OrganizationScopedQuerySet):
    pass


class Topic(models.Model):
    """What a message is about: its purpose decides the consent rules."""

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="topics",
        verbose_name=_("organization"),
    )
    slug = models.SlugField(_("slug"), max_length=64)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    channels = models.JSONField(
        _("channels"),
        default=all_channels,
        validators=[validate_channels],
        help_text=_("Channels this topic may use, in the default order of preference."),
    )
    urgent = models.BooleanField(
        _("urgent"),
        default=False,
        help_text=_(
            "Urgent care messages use the wider urgent sending window and are "
            "outside the fatigue budget."
        ),
    )
    essential = models.BooleanField(
        _("essential"),
        default=False,
        help_text=_(
            "Appointments and other care that must not be missed: never held "
            "back by the care cap or the fatigue budget; routine care, surveys "
            "and campaigns give way to it."
        ),
    )
    must_acknowledge = models.BooleanField(
        _("must be acknowledged"),
        default=False,
        help_text=_("Escalate along the ladder until the patient reads or answers."),
    )
    escalation_ladder = models.JSONField(
        _("escalation ladder"),
        default=list,
        blank=True,
        validators=[validate_escalation_ladder],
        help_text=_(
            'e.g. [{"after_hours": 4, "channel": "sms"}, {"after_hours": 24, '
            '"channel": "voice"}, {"after_hours": 48, "staff": true}]'
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["purpose", "slug"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "slug"],
                name="consent_topic_unique_slug_per_org",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=Purpose.values),
                name="consent_topic_purpose_known",
            ),
            models.CheckConstraint(
                condition=Q(urgent=False) | Q(purpose=Purpose.CARE),
                name="consent_topic_only_care_is_urgent",
                violation_error_message=_("Only care topics can be urgent."),
            ),
            models.CheckConstraint(
                condition=Q(essential=False) | Q(purpose=Purpose.CARE),
                name="consent_topic_only_care_is_essential",
                violation_error_message=_("Only care topics can be essential."),
            ),
        ]

    def __str__(self) -> str:
        """Its name in the active language: staff read French in a French admin."""
        return self.name(get_language() or "en")

    @property
    def priority(self) -> PriorityClass:
        """Its messages' class when limits bite (``consent.vocabulary``): a
        topic that must be acknowledged is essential care."""
        return priority_class(
            purpose=self.purpose,
            urgent=self.urgent,
            essential=self.essential or self.must_acknowledge,
        )

    def name(self, language: str) -> str:
        """The name patients of ``language`` read (the other one when empty)."""
        if language.startswith("fr"):
            return self.name_fr or self.name_en
        return self.name_en or self.name_fr

    def clean(self) -> None:
        if self.purpose == Purpose.CARE and Channel.INAPP not in (self.channels or []):
            raise ValidationError(
                {"channels": _("Care topics always keep the secure inbox channel.")}
            )
        ladder_channels = {
            step.get("channel")
            for step in self.escalation_ladder or []
            if isinstance(step, dict)
        } - {None}
        if not ladder_channels <= set(self.channels or []):
            raise ValidationError(
                {
                    "escalation_ladder": _(
                        "The ladder may only use the topic's channels."
                    )
                }
            )
        if self.must_acknowledge and not self.escalation_ladder:
            raise ValidationError(
                {
                    "escalation_ladder": _(
                        "A topic that must be acknowledged needs a ladder."
                    )
                }
            )


class OrganizationPolicyQuerySet(OrganizationScopedQuerySet):
    pass


class OrganizationPolicy(models.Model):
    """An organization's sending rules: windows, caps, budget and forbidden days."""

    organization = models.OneToOneField(
        Organization,
        on_delete=models.CASCADE,
        related_name="consent_policy",
        verbose_name=_("organization"),
    )
    send_from = models.TimeField(_("send from"), default=datetime.time(8, 0))
    send_until = models.TimeField(_("send until"), default=datetime.time(21, 0))
    urgent_send_from = models.TimeField(
        _("urgent send from"), default=datetime.time(7, 0)
    )
    urgent_send_until = models.TimeField(
        _("urgent send until"), default=datetime.time(22, 30)
    )
    marketing_on_sundays = models.BooleanField(_("campaigns on Sundays"), default=False)
    marketing_on_holidays = models.BooleanField(
        _("campaigns on public holidays"), default=False
    )
    voice_marketing_windows = models.JSONField(
        _("voice campaign windows"),
        default=default_voice_windows,
        validators=[validate_voice_windows],
        help_text=_('e.g. [{"days": [0,1,2,3,4], "start": "10:00", "end": "13:00"}]'),
    )
    marketing_per_week = models.PositiveSmallIntegerField(
        _("campaign messages per week"), default=2
    )
    care_cap = models.PositiveSmallIntegerField(
        _("care messages per period"),
        null=True,
        blank=True,
        help_text=_("Empty: no cap on care messages."),
    )
    care_cap_days = models.PositiveSmallIntegerField(
        _("care cap period (days)"), default=1
    )
    survey_every_days = models.PositiveSmallIntegerField(
        _("at most one survey every (days)"), default=90
    )
    fatigue_budget = models.PositiveSmallIntegerField(
        _("non-urgent messages per budget period"), default=6
    )
    fatigue_budget_days = models.PositiveSmallIntegerField(
        _("budget period (days)"), default=7
    )
    duplicate_window_hours = models.PositiveSmallIntegerField(
        _("duplicate window (hours)"), default=24
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = OrganizationPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("sending policy")
        verbose_name_plural = _("sending policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(send_from__lt=models.F("send_until")),
                name="consent_policy_send_window_ordered",
                violation_error_message=_(
                    "The sending window must start before it ends."
                ),
            ),
            models.CheckConstraint(
                condition=Q(urgent_send_from__lt=models.F("urgent_send_until")),
                name="consent_policy_urgent_window_ordered",
                violation_error_message=_(
                    "The urgent sending window must start before it ends."
                ),
            ),
            models.CheckConstraint(
                condition=Q(care_cap_days__gt=0)
                & Q(fatigue_budget_days__gt=0)
                & Q(survey_every_days__gt=0),
                name="consent_policy_periods_positive",
                violation_error_message=_("Periods must last at least one day."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.organization)

    def clean(self) -> None:
        errors = validate_window(self.send_from, self.send_until, "send_until")
        errors |= validate_window(
            self.urgent_send_from, self.urgent_send_until, "urgent_send_until"
        )
        if errors:
            raise ValidationError(errors)


class PatientPreferencesQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"


class PatientPreferences(models.Model):
    """A patient's own sending settings and the state of their contact points."""

    patient = models.OneToOneField(
        Patient,
        on_delete=models.CASCADE,
        related_name="preferences",
        verbose_name=_("patient"),
    )
    send_from = models.TimeField(_("send from"), null=True, blank=True)
    send_until = models.TimeField(_("send until"), null=True, blank=True)
    marketing_per_week = models.PositiveSmallIntegerField(
        _("campaign messages per week"),
        null=True,
        blank=True,
        help_text=_("Empty: the organization's default."),
    )
    channel_order = models.JSONField(
        _("channel order per topic"),
        default=dict,
        blank=True,
        help_text=_('{"topic-slug": ["sms", "email", "inapp"]}'),
    )
    email_verified_at = models.DateTimeField(
        _("email verified at"), null=True, blank=True
    )
    phone_verified_at = models.DateTimeField(
        _("phone verified at"), null=True, blank=True
    )
    email_invalid_at = models.DateTimeField(
        _("email invalid at"),
        null=True,
        blank=True,
        help_text=_("Set when mail bounces; cleared on change."),
    )
    phone_invalid_at = models.DateTimeField(
        _("phone invalid at"), null=True, blank=True
    )
    objects_to_automation = models.BooleanField(
        _("objects to automated processing"), default=False
    )
    objected_at = models.DateTimeField(_("objected at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PatientPreferencesQuerySet.as_manager()

    class Meta:
        verbose_name = _("patient preferences")
        verbose_name_plural = _("patient preferences")
        constraints = [
            models.CheckConstraint(
                condition=Q(send_from__isnull=True)
                | Q(send_until__isnull=True)
                | Q(send_from__lt=models.F("send_until")),
                name="consent_preferences_window_ordered",
                violation_error_message=_(
                    "The sending window must start before it ends."
                ),
            ),
        ]

    def __str__(self) -> str:
        return _("preferences of patient %(id)s") % {"id": self.patient_id}

    def clean(self) -> None:
        if (self.send_from is None) != (self.send_until is None):
            raise ValidationError(
                {"send_until": _("Give both ends of the sending window, or neither.")}
            )
        errors = validate_window(self.send_from, self.send_until, "send_until")
        if errors:
            raise ValidationError(errors)


class AppendOnlyQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"

    def update(self, **kwargs):
        raise PermissionError(
            "The consent ledger is append-only: rows cannot be updated."
        )

    def delete(self):
        raise PermissionError(
            "The consent ledger is append-only: rows cannot be deleted."
        )

    def for_patient(self, patient: Patient):
        return self.filter(patient=patient)


class ConsentEvent(models.Model):
    """One consent given or withdrawn, with its proof. Never updated, never deleted."""

    class Action(models.TextChoices):
        GRANTED = "granted", _("granted")
        WITHDRAWN = "withdrawn", _("withdrew")

    public_id = models.UUIDField(
        _("public ID"), default=uuid.uuid4, unique=True, editable=False
    )
    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="consent_events",
        verbose_name=_("patient"),
    )
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, blank=True
    )
    topic = models.ForeignKey(
        Topic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("topic"),
    )
    channel = models.CharField(
        _("channel"),
        max_length=8,
        choices=Channel.choices,
        blank=True,
        help_text=_("Empty: every channel."),
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    source = models.CharField(_("source"), max_length=24, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    wording_version = models.CharField(_("wording version"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    evidence = models.JSONField(_("other evidence"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("consent event")
        verbose_name_plural = _("consent ledger")
        constraints = [
            models.CheckConstraint(
                condition=(Q(purpose="") & Q(topic__isnull=False))
                | (~Q(purpose="") & Q(topic__isnull=True)),
                name="consent_event_purpose_xor_topic",
                violation_error_message=_(
                    "A consent event is about a purpose or a topic."
                ),
            ),
            models.CheckConstraint(
                condition=Q(action__in=["granted", "withdrawn"]),
                name="consent_event_action_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["patient", "occurred_at"], name="consent_event_patient_at"
            ),
        ]

    def __str__(self) -> str:
        return _("%(action)s %(scope)s on %(channel)s") % {
            "action": self.get_action_display(),
            "scope": self.scope_key,
            "channel": self.get_channel_display() if self.channel else "*",
        }

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError(
                "The consent ledger is append-only: rows cannot be updated."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(
            "The consent ledger is append-only: rows cannot be deleted."
        )

    @property
    def granted(self) -> bool:
        return self.action == self.Action.GRANTED

    @property
    def scope_key(self) -> str:
        return scope_key(purpose=self.purpose, topic_id=self.topic_id)

    @property
    def channel_key(self) -> str:
        return self.channel or ALL_CHANNELS


ALL_CHANNELS = "*"


def scope_key(*, purpose: str = "", topic_id: int | None = None) -> str:
    return f"topic:{topic_id}" if topic_id else f"purpose:{purpose}"


class ConsentStateQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"


class ConsentState(models.Model):
    """The latest ledger event per patient × scope × channel, for fast reads."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", verbose_name=_("patient")
    )
    scope = models.CharField(
        _("scope"), max_length=40
    )  # "purpose:marketing" or "topic:<id>"
    channel = models.CharField(_("channel"), max_length=8)  # a channel, or "*" for all
    granted = models.BooleanField(_("granted"))
    event = models.ForeignKey(
        ConsentEvent,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("event"),
    )
    occurred_at = models.DateTimeField(_("occurred at"))

    objects = ConsentStateQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "scope", "channel"], name="consent_state_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}/{self.channel}={'yes' if self.granted else 'no'}"


class SendRecordQuerySet(OrganizationScopedQuerySet):
    organization_path = "patient__organization"


class SendRecord(models.Model):
    """A message that left (or is leaving) for a patient: what caps, budget
    and de-duplication count.

    Written by ``consent.limits`` only: when a worker admits a delivery under
    the patient's lock, before the provider call, so no two workers can both
    see room for one more; released if the send fails. Consent reads them
    without depending on messaging's tables.
    """

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", verbose_name=_("patient")
    )
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, related_name="+", verbose_name=_("topic")
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    urgent = models.BooleanField(_("urgent"), default=False)
    # The topic's class when it was sent: caps and the budget count every
    # class but security, and limit only routine care and below.
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=PriorityClass.choices, default=PriorityClass.ROUTINE
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    message_key = models.CharField(_("message key"), max_length=64)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("sent at"))

    objects = SendRecordQuerySet.as_manager()

    class Meta:
        indexes = [
            # Caps and budget: a patient's sends within a period.
            models.Index(fields=["patient", "sent_at"], name="consent_send_patient_at"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose}/{self.channel} at {self.sent_at:%Y-%m-%d %H:%M}"


class PatientPrivacy(Patient):
    """Patients seen from their privacy rights: export, erasure, objection."""

    class Meta:
        proxy = True
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        permissions = [
            ("export_patient_data", _("Can export a patient's data")),
            ("erase_patient", _("Can erase a patient's identity")),
            ("record_objection", _("Can record a patient's objection")),
        ]


from consent.requests.models import ErasureRequest  # noqa: E402,F401
