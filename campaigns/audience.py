"""Who a campaign reaches, and who it does not and why, computed set-wise.

``audience_queryset`` applies the campaign's filters (always its organization).
``page_outcomes`` says, for a page of those patients, whether each will
receive the message and, if not, why: consent's own answers
(``consent.selectors.iter_decisions``, a few queries per channel for the whole
page), walked along each patient's channel order exactly as
``messaging.services`` plans a message. The live count (``audience_count``)
and the real send (``campaigns.sending``) both call it, so they agree.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, PatientTag
from clinic.models import Appointment, AppointmentStatus, Patient
from consent.selectors import channel_order_get, iter_decisions
from consent.vocabulary import Channel, Outcome, Reason
from messaging.models import DeliveryReason, Sensitivity, Template

PAGE_SIZE = 1000

# Reasons of the campaign's own, beside consent's (consent.vocabulary.Reason).
OBJECTS_TO_AUTOMATION = "objects_to_automation"
NOT_OPTED_IN = "no_opt_in"
CAMPAIGN_REASONS = {
    OBJECTS_TO_AUTOMATION: _("The patient objects to automated processing"),
    "campaign_cancelled": _("The campaign was cancelled"),
    "campaign_paused": _("Waiting: the campaign is paused"),
}


def audience_queryset(campaign: Campaign, *, today: datetime.date | None = None):
    """The patients the campaign's filters select (consent is not applied here)."""
    today = today or timezone.localdate()
    patients = Patient.objects.for_organization(campaign.organization_id).filter(
        erased_at__isnull=True
    )
    if campaign.language:
        patients = patients.filter(preferred_language=campaign.language)
    if campaign.age_min is not None:
        patients = patients.filter(
            birth_date__lte=_years_before(today, campaign.age_min)
        )
    if campaign.age_max is not None:
        # Younger than age_max + 1: born after that many years ago.
        patients = patients.filter(
            birth_date__gt=_years_before(today, campaign.age_max + 1)
        )
    if campaign.tags:
        patients = patients.filter(
            Exists(
                PatientTag.objects.filter(
                    patient=OuterRef("pk"), name__in=list(campaign.tags)
                )
            )
        )
    appointments = Appointment.objects.filter(patient=OuterRef("pk"))
    if campaign.site_id:
        patients = patients.filter(
            Exists(appointments.filter(site_id=campaign.site_id))
        )
    visits = appointments.filter(status=AppointmentStatus.FULFILLED)
    if campaign.last_visit_after:
        patients = patients.filter(
            Exists(visits.filter(starts_at__date__gte=campaign.last_visit_after))
        )
    if campaign.last_visit_before:
        # The *last* visit is before the date: some visit, and none since.
        patients = patients.filter(Exists(visits)).exclude(
            Exists(visits.filter(starts_at__date__gte=campaign.last_visit_before))
        )
    if campaign.upcoming_appointment_kind:
        patients = patients.filter(
            Exists(
                appointments.filter(
                    kind=campaign.upcoming_appointment_kind,
                    starts_at__gte=timezone.now(),
                    status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED],
                )
            )
        )
    return patients


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class LanguagePlan:
    """What a patient of one language gets: the channels with content."""

    channels: frozenset[str]
    confidential: bool
    fell_back: bool


def language_plans(campaign: Campaign) -> dict[str, LanguagePlan]:
    """language → its plan, choosing templates like ``messaging.planning.pick_templates``
    (the patient's language, else the organization's, per channel)."""
    templates = list(
        Template.objects.filter(topic_id=campaign.topic_id).values_list(
            "channel", "language", "sensitivity"
        )
    )
    fallback = campaign.organization.default_language
    plans = {}
    for language in {row[1] for row in templates} | {
        "fr",
        "en",
        fallback,
    }:
        chosen: dict[str, str] = {}
        for wanted in (language, fallback):
            for channel, template_language, sensitivity in templates:
                if template_language == wanted:
                    chosen.setdefault(channel, sensitivity)
        if not chosen:
            plans[language] = LanguagePlan(frozenset(), False, False)
            continue
        inbox = chosen.get(Channel.INAPP)
        if inbox is None:  # the inbox copy is the email's, else any other's
            inbox = chosen.get(Channel.EMAIL) or next(iter(chosen.values()))
        confidential = inbox == Sensitivity.CONFIDENTIAL
        channels = set(chosen) | {Channel.INAPP}
        plans[language] = LanguagePlan(
            frozenset(channels),
            confidential,
            fell_back=not any(t[1] == language for t in templates),
        )
    return plans


@dataclass(frozen=True)
class PatientOutcome:
    receives: bool
    channel: str = ""  # the channel it goes out on (the inbox if no other)
    reason: str = ""  # why not, when it does not


def page_outcomes(
    patients: list[Patient],
    campaign: Campaign,
    at: datetime.datetime,
    plans: dict[str, LanguagePlan],
) -> dict[int, PatientOutcome]:
    """patient id → outcome, for one page of patients (loaded with
    ``organization`` and ``preferences``). A few queries per channel."""
    topic = campaign.topic
    orders = {p.pk: channel_order_get(patient=p, topic=topic) for p in patients}
    channels = {channel for order in orders.values() for channel in order}
    ids = [p.pk for p in patients]
    decisions = {
        channel: dict(iter_decisions(ids, topic, channel, at)) for channel in channels
    }
    outcomes = {}
    for patient in patients:
        preferences = getattr(patient, "preferences", None)
        if preferences is not None and preferences.objects_to_automation:
            outcomes[patient.pk] = PatientOutcome(False, reason=OBJECTS_TO_AUTOMATION)
            continue
        plan = plans.get(patient.preferred_language)
        if plan is None or not plan.channels:
            outcomes[patient.pk] = PatientOutcome(
                False, reason=DeliveryReason.NO_TEMPLATE
            )
            continue
        outcomes[patient.pk] = _walk(
            orders[patient.pk],
            {c: decisions[c][patient.pk] for c in orders[patient.pk]},
            plan,
            campaign.require_opt_in,
        )
    return outcomes


def _walk(order, decisions, plan: LanguagePlan, require_opt_in: bool) -> PatientOutcome:
    """The channel order walked as ``messaging.services.sending._plan_channels``
    does: the inbox always, then the first external channel not suppressed.
    With ``require_opt_in``, the channel it would go out on must rest on an
    explicit consent event."""
    first_reason = ""
    chosen = ""
    for channel in order:
        decision = decisions[channel]
        has_content = channel in plan.channels or (
            plan.confidential and channel != Channel.INAPP
        )
        if decision.outcome == Outcome.SUPPRESS:
            first_reason = first_reason or decision.reason
        elif not has_content:
            first_reason = first_reason or DeliveryReason.NO_TEMPLATE
        elif channel != Channel.INAPP:
            chosen = channel
            break
        else:
            chosen = channel  # the inbox, unless an external channel follows
    if not chosen:
        return PatientOutcome(False, reason=first_reason or Reason.CHANNEL_NOT_ALLOWED)
    why = decisions[chosen].why
    if require_opt_in and (why is None or not why.consent_event_id):
        return PatientOutcome(False, reason=NOT_OPTED_IN)
    return PatientOutcome(True, channel=chosen)


def iter_pages(patients: QuerySet[Patient], size: int = PAGE_SIZE) -> Iterator[list]:
    """Keyset pages of patients with what ``page_outcomes`` needs."""
    queryset = patients.select_related("organization", "preferences").order_by("pk")
    last = 0
    while True:
        page = list(queryset.filter(pk__gt=last)[:size])
        if not page:
            return
        last = page[-1].pk
        yield page


@dataclass
class AudienceCount:
    """The live count: who will receive, who will not and why."""

    total: int = 0
    receiving: int = 0
    by_channel: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    language_fallback: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def excluded_labelled(self) -> list[tuple[str, str, int]]:
        return [
            (reason, reason_label(reason), n)
            for reason, n in self.excluded.most_common()
        ]


def reason_label(reason: str) -> str:
    from messaging.models import REASON_LABELS

    return str(CAMPAIGN_REASONS.get(reason) or REASON_LABELS.get(reason, reason))


def audience_count(
    campaign: Campaign, *, at: datetime.datetime | None = None
) -> AudienceCount:
    """Count who the campaign would reach at ``at`` (now by default), page by
    page: memory is bounded by a page, and each page costs a few queries."""
    at = at or timezone.now()
    count = AudienceCount()
    plans = language_plans(campaign)
    for page in iter_pages(audience_queryset(campaign, today=at.date())):
        outcomes = page_outcomes(page, campaign, at, plans)
        for patient in page:
            outcome = outcomes[patient.pk]
            count.total += 1
            if outcome.receives:
                count.receiving += 1
                count.by_channel[outcome.channel] += 1
                plan = plans.get(patient.preferred_language)
                if plan is not None and plan.fell_back:
                    count.language_fallback += 1
            else:
                count.excluded[outcome.reason] += 1
    count.problems = audience_problems(campaign, count)
    return count


def audience_problems(campaign: Campaign, count: AudienceCount) -> list[str]:
    """Why the campaign cannot be approved as it stands, in words for staff."""
    problems = []
    if count.total == 0:
        problems.append(
            str(_("No patient matches these filters: widen them before submitting."))
        )
    elif count.receiving == 0:
        problems.append(
            str(
                _(
                    "Nobody in this audience can receive the campaign (see the "
                    "reasons below)."
                )
            )
        )
    if not Template.objects.filter(topic_id=campaign.topic_id).exists():
        problems.append(str(_("The topic has no template: write one first.")))
    return problems
