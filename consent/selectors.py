"""Reads on consent, above all ``decide`` and its bulk form ``decide_many``.

Both gather facts from the database and call the pure ``consent.policy.evaluate``:
``decide`` with a few plain queries for one patient, ``decide_many`` set-wise
(three queries per batch of patients, whatever the batch size).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable, Iterator

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from clinic.models import Patient
from consent import history
from consent.errors import ConsentError
from consent.models import ALL_CHANNELS, ConsentState, SendRecord, Topic, scope_key
from consent.policy import (
    ConsentFacts,
    Decision,
    History,
    PatientFacts,
    Rules,
    VoiceWindow,
    Why,
    evaluate,
    parse_clock_pair,
)
from consent.services import policy_get
from consent.vocabulary import Channel, Purpose

BATCH_SIZE = 50_000

PATIENT_FIELDS = (
    "id",
    "organization_id",
    "time_zone",
    "erased_at",
    "email",
    "phone_text",
    "phone_is_mobile",
    "preferences__send_from",
    "preferences__send_until",
    "preferences__marketing_per_week",
    "preferences__email_verified_at",
    "preferences__email_invalid_at",
    "preferences__phone_verified_at",
    "preferences__phone_invalid_at",
)


def _patient_rows(queryset: QuerySet[Patient]) -> QuerySet:
    # The raw E.164 text: PhoneNumberField would parse every number on load,
    # which costs more than the whole decision.
    return queryset.annotate(phone_text=Cast("phone", CharField())).values(
        *PATIENT_FIELDS
    )


def topic_resolve(*, patient: Patient, topic: Topic | str) -> Topic:
    """The Topic object for ``topic`` (an object or a slug) in the patient's organization.

    Raises ConsentError when the topic is unknown or another organization's.
    """
    if isinstance(topic, str):
        found = (
            Topic.objects.for_organization(patient.organization_id)
            .filter(slug=topic)
            .first()
        )
        if found is None:
            raise ConsentError(f"Unknown topic {topic!r} for this organization.")
        return found
    if topic.organization_id != patient.organization_id:
        raise ConsentError(
            "The topic belongs to another organization than the patient."
        )
    return topic


def _check_channel(channel: str) -> None:
    if channel not in Channel.values:
        raise ConsentError(
            f"Unknown channel {channel!r}; expected one of {', '.join(Channel.values)}."
        )


def rules_for(topic: Topic) -> Rules:
    """The topic's rules, with its organization's policy (created if missing)."""
    policy = policy_get(organization=topic.organization)
    return Rules(
        topic_id=topic.pk,
        purpose=topic.purpose,
        channels=frozenset(topic.channels),
        urgent=topic.urgent,
        priority=topic.priority,
        country=topic.organization.country,
        send_from=policy.send_from,
        send_until=policy.send_until,
        urgent_send_from=policy.urgent_send_from,
        urgent_send_until=policy.urgent_send_until,
        marketing_on_sundays=policy.marketing_on_sundays,
        marketing_on_holidays=policy.marketing_on_holidays,
        voice_windows=tuple(
            VoiceWindow(frozenset(w["days"]), *parse_clock_pair(w["start"], w["end"]))
            for w in policy.voice_marketing_windows
        ),
        marketing_per_week=policy.marketing_per_week,
        care_cap=policy.care_cap,
        care_cap_days=policy.care_cap_days,
        survey_every_days=policy.survey_every_days,
        fatigue_budget=policy.fatigue_budget,
        fatigue_budget_days=policy.fatigue_budget_days,
        duplicate_window_hours=policy.duplicate_window_hours,
    )


def _patient_facts(
    row: dict, consent: ConsentFacts | None, history: History
) -> PatientFacts:
    return PatientFacts(
        patient_id=row["id"],
        time_zone=row["time_zone"],
        erased=row["erased_at"] is not None,
        email=row["email"],
        email_verified=row["preferences__email_verified_at"] is not None,
        email_invalid=row["preferences__email_invalid_at"] is not None,
        phone=row["phone_text"] or "",
        phone_is_mobile=row["phone_is_mobile"],
        phone_verified=row["preferences__phone_verified_at"] is not None,
        phone_invalid=row["preferences__phone_invalid_at"] is not None,
        send_from=row["preferences__send_from"],
        send_until=row["preferences__send_until"],
        marketing_per_week=row["preferences__marketing_per_week"],
        consent=consent,
        history=history,
    )


def _state_filter(rules: Rules, channel: str) -> Q:
    return Q(
        scope__in=[
            scope_key(topic_id=rules.topic_id),
            scope_key(purpose=rules.purpose),
        ],
        channel__in=[channel, ALL_CHANNELS],
    )


def _latest(states: Iterable[tuple]) -> ConsentFacts | None:
    best = max(
        states, key=lambda s: (s[2], s[3]), default=None
    )  # (occurred_at, event_id)
    return ConsentFacts(granted=best[1], event_id=best[3]) if best else None


def decide(
    patient: Patient,
    topic: Topic | str,
    channel: str,
    at: datetime.datetime | None = None,
    *,
    message_key: str = "",
    content_hash: str = "",
) -> Decision:
    """Whether a message on ``topic`` may reach ``patient`` on ``channel`` at ``at``.

    Returns a Decision: allow (with why), defer (until, reason) or suppress
    (reason). ``message_key`` identifies the message being decided (its other
    channels' sends do not count against it); ``content_hash`` enables the
    duplicate check. Raises ConsentError for an unknown topic or channel or a
    topic of another organization. Reads only.
    """
    _check_channel(channel)
    topic = topic_resolve(patient=patient, topic=topic)
    rules = rules_for(topic)
    at = at or timezone.now()
    row = _patient_rows(Patient.objects.filter(pk=patient.pk)).get()
    states = ConsentState.objects.filter(
        _state_filter(rules, channel), patient_id=patient.pk
    )
    consent = _latest(
        states.values_list("channel", "granted", "occurred_at", "event_id")
    )
    records = SendRecord.objects.filter(
        history.period(rules, at), patient_id=patient.pk
    )
    if message_key:
        records = records.exclude(message_key=message_key)
    counts = records.aggregate(**history.aggregates(rules, at, content_hash))
    facts = _patient_facts(row, consent, history.from_aggregates(counts))
    return evaluate(rules, facts, channel, at)


def decide_many(
    patients: QuerySet[Patient] | Iterable[Patient | int],
    topic: Topic,
    channel: str,
    at: datetime.datetime | None = None,
    *,
    content_hash: str = "",
) -> dict[int, Decision]:
    """``decide`` for many patients of the topic's organization: patient id → Decision.

    Patients of another organization are refused with ConsentError, as in
    ``decide``. Three queries per batch of ``BATCH_SIZE`` patients.
    """
    return dict(iter_decisions(patients, topic, channel, at, content_hash=content_hash))


def iter_decisions(
    patients: QuerySet[Patient] | Iterable[Patient | int],
    topic: Topic,
    channel: str,
    at: datetime.datetime | None = None,
    *,
    content_hash: str = "",
    message_keys: Collection[str] = (),
    batch_size: int = BATCH_SIZE,
) -> Iterator[tuple[int, Decision]]:
    """Like ``decide_many``, yielding (patient id, Decision) batch by batch, so a
    million-patient audience needs memory for one batch only.

    ``message_keys``: the messages being decided, whose own sends on other
    channels do not count against them (each key belongs to one patient).
    """
    _check_channel(channel)
    rules = rules_for(topic)
    at = at or timezone.now()
    if isinstance(patients, QuerySet) and not patients.query.is_sliced:
        batches = _queryset_batches(patients, batch_size)
    else:
        batches = _id_batches(patients, batch_size)
    for rows, related in batches:
        yield from _decide_batch(
            rows, related, topic, rules, channel, at, content_hash, message_keys
        )


def _queryset_batches(
    patients: QuerySet[Patient], batch_size: int
) -> Iterator[tuple[list[dict], Q]]:
    """Keyset pages of the queryset; related rows are fetched by id range.

    An id range costs the database nothing to parse, where an IN list of tens
    of thousands of ids costs more than the decisions themselves. Related rows
    of patients in the range but outside the queryset are simply not used.
    """
    last = 0
    while True:
        rows = list(
            _patient_rows(patients.filter(pk__gt=last).order_by("pk")[:batch_size])
        )
        if not rows:
            return
        first, last = rows[0]["id"], rows[-1]["id"]
        yield rows, Q(patient_id__gte=first, patient_id__lte=last)


def _id_batches(
    patients: Iterable[Patient | int], batch_size: int
) -> Iterator[tuple[list[dict], Q]]:
    ids = [p if isinstance(p, int) else p.pk for p in patients]
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        rows = list(_patient_rows(Patient.objects.filter(pk__in=chunk)))
        if len(rows) != len(set(chunk)):
            raise ConsentError("Some patients do not exist.")
        yield rows, Q(patient_id__in=chunk)


def _decide_batch(
    rows: list[dict],
    related: Q,
    topic: Topic,
    rules: Rules,
    channel: str,
    at: datetime.datetime,
    content_hash: str,
    message_keys: Collection[str] = (),
) -> Iterator[tuple[int, Decision]]:
    if any(row["organization_id"] != topic.organization_id for row in rows):
        raise ConsentError(
            "Some patients belong to another organization than the topic."
        )
    states: dict[int, list[tuple]] = {}
    for patient_id, *state in (
        ConsentState.objects.filter(_state_filter(rules, channel), related)
        .values_list("patient_id", "channel", "granted", "occurred_at", "event_id")
        .order_by()
    ):
        states.setdefault(patient_id, []).append(tuple(state))
    histories = {
        row["patient_id"]: history.from_aggregates(row)
        for row in SendRecord.objects.filter(history.period(rules, at), related)
        .exclude(message_key__in=list(message_keys))
        .values("patient_id")
        .annotate(**history.aggregates(rules, at, content_hash))
        .order_by()
    }
    empty = History()
    for row in rows:
        patient_id = row["id"]
        facts = _patient_facts(
            row, _latest(states.get(patient_id, ())), histories.get(patient_id, empty)
        )
        yield patient_id, evaluate(rules, facts, channel, at)


def channel_order_get(*, patient: Patient, topic: Topic) -> list[str]:
    """The channels to try for this patient and topic, first choice first.

    The patient's own order when they set one, else the topic's; the secure
    inbox is always kept for care topics.
    """
    preferences = getattr(patient, "preferences", None)
    chosen = (preferences.channel_order if preferences else {}).get(topic.slug)
    order = [c for c in (chosen or topic.channels) if c in topic.channels]
    if topic.purpose == Purpose.CARE and Channel.INAPP not in order:
        order.append(Channel.INAPP)
    return order


def why_describe(*, why: Why, language: str) -> str:
    """In plain words, why a patient receives a message (the portal shows it).

    Names the purpose, the lawful basis and, for an opt-in, when and how it was
    given; never anything about the message's content.
    """
    from django.utils import formats, translation
    from django.utils.translation import gettext as _

    from consent.models import ConsentEvent
    from consent.vocabulary import LawfulBasis, Source

    with translation.override(language):
        purpose = str(Purpose(why.purpose).label)
        basis = str(LawfulBasis(why.lawful_basis).label)
        text = _("Purpose: %(purpose)s. Legal basis: %(basis)s.") % {
            "purpose": purpose,
            "basis": basis,
        }
        event = (
            ConsentEvent.objects.filter(pk=why.consent_event_id).first()
            if why.consent_event_id
            else None
        )
        if event is not None:
            text += " " + _("You agreed to it on %(date)s (%(source)s).") % {
                "date": formats.date_format(event.occurred_at, "DATE_FORMAT"),
                "source": str(Source(event.source).label),
            }
        elif why.purpose == Purpose.CARE:
            text += " " + _("It concerns the care you receive from this clinic.")
        elif why.purpose == Purpose.FEEDBACK:
            text += " " + _("You can refuse surveys at any time.")
        return text
