"""Who a campaign reaches, and who it does not and why, computed set-wise.

``audience_queryset`` applies the campaign's filters (always its organization).
``rows_outcomes`` (and ``page_outcomes`` for model instances) says, for a page
of those patients, whether each will receive the message and, if not, why:
consent's own answers for the channels the walk reaches
(``messaging.services.bulk.decisions_walk``, three queries for the page),
walked along each patient's channel order exactly as ``messaging.services``
plans a message. The live count (``audience_count``) and the real send
(``campaigns.planner``) both call it, so they agree, and the send plans with
the very answers it walked.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, PatientTag
from clinic.models import Appointment, AppointmentStatus, Patient
from consent.vocabulary import Channel, Outcome, Reason
from messaging.models import DeliveryReason, Sensitivity, Template
from messaging.services.bulk import ChannelOrders, decisions_walk
from messaging.services.channel_walk import walk

PAGE_SIZE = 10_000

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
    """language → its plan, choosing templates like ``messaging.content.pick_templates``
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
    ``preferences``). A few queries per channel."""
    rows = []
    for patient in patients:
        preferences = getattr(patient, "preferences", None)
        rows.append(
            AudienceRow(
                patient.pk,
                patient.preferred_language,
                bool(preferences and preferences.objects_to_automation),
                preferences.channel_order if preferences else None,
            )
        )
    outcomes, _ = rows_outcomes(rows, campaign, at, plans)
    return outcomes


@dataclass(slots=True)
class AudienceRow:
    """What the outcome of a patient depends on, besides consent."""

    pk: int
    language: str
    objects_to_automation: bool
    channel_order: dict | None


AUDIENCE_ROW_FIELDS = (
    "pk",
    "preferred_language",
    "preferences__objects_to_automation",
    "preferences__channel_order",
)


def rows_outcomes(
    rows: list[AudienceRow],
    campaign: Campaign,
    at: datetime.datetime,
    plans: dict[str, LanguagePlan],
    *,
    everyone: QuerySet[Patient] | None = None,
    facts_rows: Mapping[int, dict] | None = None,
) -> tuple[dict[int, PatientOutcome], dict[int, dict]]:
    """(patient id → outcome, patient id → channel → Decision) for a page.

    Consent is asked only about the channels the walk reaches
    (``messaging.services.bulk.decisions_walk``), and those answers are the
    ones the send plans with: each patient is decided once. ``everyone``: a
    queryset of exactly these patients (consent reads by id range);
    ``facts_rows``: the patients as consent reads them, already read
    (``consent.facts.patient_fact_rows``)."""
    topic = campaign.topic
    orders_for = ChannelOrders(topic)
    outcomes: dict[int, PatientOutcome] = {}
    orders: dict[int, list[str]] = {}
    language: dict[int, LanguagePlan] = {}
    for row in rows:
        if row.objects_to_automation:
            outcomes[row.pk] = PatientOutcome(False, reason=OBJECTS_TO_AUTOMATION)
            continue
        plan = plans.get(row.language)
        if plan is None or not plan.channels:
            outcomes[row.pk] = PatientOutcome(False, reason=DeliveryReason.NO_TEMPLATE)
            continue
        orders[row.pk] = orders_for(row.channel_order)
        language[row.pk] = plan
    ids = list(orders)
    decisions = decisions_walk(
        ids,
        orders,
        lambda pk, channel: _has_content(language[pk], channel),
        topic,
        at,
        everyone=everyone if len(ids) == len(rows) else None,
        rows=facts_rows,
    )
    for pk in ids:
        outcomes[pk] = _walk(
            orders[pk], decisions[pk], language[pk], campaign.require_opt_in
        )
    return outcomes, decisions


def _has_content(plan: LanguagePlan, channel: str) -> bool:
    return channel in plan.channels or (plan.confidential and channel != Channel.INAPP)


def _walk(order, decisions, plan: LanguagePlan, require_opt_in: bool) -> PatientOutcome:
    """The channel order walked as every planner walks it
    (``messaging.services.channel_walk``): the inbox always, then the first
    external channel not suppressed. With ``require_opt_in``, the channel it
    would go out on must rest on an explicit consent event."""
    tried, chosen = walk(
        order, decisions.__getitem__, lambda channel: _has_content(plan, channel)
    )
    if not chosen and any(
        c == Channel.INAPP and d.outcome != Outcome.SUPPRESS and _has_content(plan, c)
        for c, d in tried
    ):
        chosen = Channel.INAPP  # the inbox alone
    if not chosen:
        first_reason = next(
            (
                d.reason
                if d.outcome == Outcome.SUPPRESS
                else DeliveryReason.NO_TEMPLATE
                for c, d in tried
                if d.outcome == Outcome.SUPPRESS or not _has_content(plan, c)
            ),
            "",
        )
        return PatientOutcome(False, reason=first_reason or Reason.CHANNEL_NOT_ALLOWED)
    why = decisions[chosen].why
    if require_opt_in and (why is None or not why.consent_event_id):
        return PatientOutcome(False, reason=NOT_OPTED_IN)
    return PatientOutcome(True, channel=chosen)


def iter_pages(
    patients: QuerySet[Patient], size: int = PAGE_SIZE
) -> Iterator[tuple[list[AudienceRow], QuerySet[Patient]]]:
    """Keyset pages of what ``rows_outcomes`` needs (plain rows, no model
    instances), each with a queryset of exactly its patients."""
    queryset = patients.order_by("pk").values_list(*AUDIENCE_ROW_FIELDS)
    last = 0
    while True:
        page = [AudienceRow(*row) for row in queryset.filter(pk__gt=last)[:size]]
        if not page:
            return
        first, last = page[0].pk, page[-1].pk
        yield page, patients.filter(pk__gte=first, pk__lte=last)


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
    count = AudienceCount()
    plans = language_plans(campaign)
    for patient, outcome in _outcomes(campaign, at or timezone.now(), plans):
        count.total += 1
        if outcome.receives:
            count.receiving += 1
            count.by_channel[outcome.channel] += 1
            plan = plans.get(patient.language)
            if plan is not None and plan.fell_back:
                count.language_fallback += 1
        else:
            count.excluded[outcome.reason] += 1
    count.problems = audience_problems(campaign, count)
    return count


def audience_excluded_ids(
    campaign: Campaign, *, reason: str, at: datetime.datetime | None = None
) -> list[int]:
    """The ids of the patients ``audience_count`` counts as excluded for
    ``reason``, in id order: the same walk, so the list is exactly the count."""
    plans = language_plans(campaign)
    return [
        patient.pk
        for patient, outcome in _outcomes(campaign, at or timezone.now(), plans)
        if not outcome.receives and outcome.reason == reason
    ]


def _outcomes(
    campaign: Campaign, at: datetime.datetime, plans: dict[str, LanguagePlan]
) -> Iterator[tuple[AudienceRow, PatientOutcome]]:
    for page, everyone in iter_pages(audience_queryset(campaign, today=at.date())):
        outcomes, _ = rows_outcomes(page, campaign, at, plans, everyone=everyone)
        for patient in page:
            yield patient, outcomes[patient.pk]


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
