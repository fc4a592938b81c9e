"""Consent's facts for a page of patients on several channels at once.

``consent.selectors.iter_decisions`` reads the facts of one channel; a bulk
planner asking about several channels for the same patients would read the
patients and their history once per channel. ``PageFacts`` reads them once
(three queries for the page) and answers each (patient, channel) with
``consent.policy.evaluate`` on the same facts ``iter_decisions`` builds; a
test compares both on every channel. It lives here, beside the selectors whose
private helpers it shares, so messaging never imports them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import F, QuerySet, Window
from django.db.models.functions import DenseRank

from clinic.models import Patient
from consent import history
from consent.errors import ConsentError
from consent.models import ALL_CHANNELS, ConsentState, SendRecord, Topic
from consent.policy import ConsentFacts, Decision, History, Why, evaluate
from consent.selectors import (
    PATIENT_FIELDS,
    _patient_facts,
    _patient_rows,
    _state_filter,
    rules_for,
)
from core.db import filter_ids


class PageFacts:
    """What ``consent.selectors.iter_decisions`` reads for one channel, read
    once for several: the patients, their consent states on any of the
    channels, their send history (which no channel changes). Three queries
    for the page, instead of three per channel; each answer is then
    ``consent.policy.evaluate`` on the same facts ``iter_decisions`` builds
    (a test compares both on every channel)."""

    def __init__(
        self,
        ids: list[int],
        topic: Topic,
        channels: Iterable[str],
        at: datetime.datetime,
        everyone: QuerySet[Patient] | None = None,
        rows: Mapping[int, dict] | None = None,
        *,
        read_history: bool = True,
    ):
        """``rows``: the patients as ``patient_fact_rows`` reads them, by id,
        when the caller has read them already (any others are left alone).
        ``read_history=False``: the caller counts the send history itself and
        asks ``decide_with``."""
        self.rules = rules_for(topic)
        self.at = at
        if rows is None:
            patients = (
                everyone
                if everyone is not None
                else filter_ids(Patient.objects.all(), ids)
            )
            rows = {row["id"]: row for row in _patient_rows(patients.order_by())}
            if len(rows) != len(set(ids)):
                raise ConsentError("Some patients do not exist.")
        if any(pk not in rows for pk in ids):
            raise ConsentError("Some patients do not exist.")
        self.rows = rows
        if any(rows[pk]["organization_id"] != topic.organization_id for pk in ids):
            raise ConsentError(
                "Some patients belong to another organization than the topic."
            )
        states = filter_ids(
            ConsentState.objects.filter(
                reduce(or_, (_state_filter(self.rules, c) for c in channels))
            ),
            ids,
            column="patient_id",
        )
        # patient → channel → the latest state on it: (sort key, position
        # read, state), so that ``_consent`` picks what ``_latest`` would of
        # the states behind a channel (the first of equal ones) without
        # walking them for each channel. The key is ``_latest``'s
        # (occurred_at, event id) with the time replaced by its rank among
        # the page's states, which orders and ties as the time does: turning
        # 8,000 timestamps a page into datetimes was 7 % of a campaign
        # planner's CPU, the rank costs the database a sort of those rows.
        # Read with a plain cursor: the rows are used as the database
        # returns them.
        self.best: dict[int, dict[str, tuple]] = {}
        sql, params = (
            states.annotate(
                occurred_rank=Window(DenseRank(), order_by=F("occurred_at").asc())
            )
            .values_list(
                "patient_id", "channel", "granted", "occurred_rank", "event_id"
            )
            .order_by()
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        best = self.best
        for position, (patient_id, *state) in enumerate(rows):
            on = best.get(patient_id)
            if on is None:
                on = best[patient_id] = {}
            key = (state[2], state[3])  # (occurred_at's rank, event_id)
            found = on.get(state[0])
            if found is None or key > found[0]:
                on[state[0]] = (key, position, tuple(state))
        self.histories = (
            {
                row["patient_id"]: history.from_aggregates(row)
                for row in filter_ids(
                    SendRecord.objects.filter(history.period(self.rules, at)),
                    ids,
                    column="patient_id",
                )
                .values("patient_id")
                .annotate(**history.aggregates(self.rules, at))
                .order_by()
            }
            if read_history
            else {}
        )
        self.empty = History()
        self.answers: dict[tuple, Decision] = {}
        # patient → (its profile's number, its states): the profile (a dozen
        # fields and the history) is hashed once per patient, not per channel.
        self.patients: dict[int, tuple[int, dict | None]] = {}
        self.profiles: dict[tuple, int] = {}
        self.consents: dict[tuple, ConsentFacts] = {}

    def decide(self, patient_id: int, channel: str) -> Decision:
        """``evaluate`` on the patient's facts, asked once per distinct profile.

        A page of 10,000 patients holds a few dozen distinct profiles (time
        zone, which contact points, quiet hours, consent state, history), and
        ``evaluate`` reads nothing else but the opt-in's event id, which only
        goes into the ``Why``: patients sharing a profile share the answer, with
        their own event id put back."""
        known = self.patients.get(patient_id)
        if known is None:
            known = self.patients[patient_id] = self._patient(patient_id)
        profile, states = known
        consent = self._consent(states, channel) if states else None
        key = (channel, profile, None if consent is None else consent.granted)
        decision = self.answers.get(key)
        if decision is None:
            history = self.histories.get(patient_id, self.empty)
            facts = _patient_facts(self.rows[patient_id], consent, history)
            decision = self.answers[key] = evaluate(self.rules, facts, channel, self.at)
        return _with_event(decision, consent)

    def decide_with(self, patient_id: int, channel: str, sent: History) -> Decision:
        """``evaluate`` on the patient's facts with the history ``sent``
        rather than the one read here (a worker admitting sends counts its
        own admissions in it)."""
        states = self.best.get(patient_id)
        consent = self._consent(states, channel) if states else None
        facts = _patient_facts(self.rows[patient_id], consent, sent)
        return evaluate(self.rules, facts, channel, self.at)

    def _patient(self, patient_id: int) -> tuple[int, dict | None]:
        profile = (
            _profile(self.rows[patient_id]),
            self.histories.get(patient_id, self.empty),
        )
        number = self.profiles.get(profile)
        if number is None:
            number = self.profiles[profile] = len(self.profiles)
        return number, self.best.get(patient_id)

    def _consent(self, states: dict[str, tuple], channel: str) -> ConsentFacts | None:
        """``_latest`` of the states behind ``channel`` (its own and the
        all-channels one); one object per state, however many channels rest
        on it."""
        own, every = states.get(channel), states.get(ALL_CHANNELS)
        if own is None or every is None:
            chosen = own or every
            if chosen is None:
                return None
        elif own[0] != every[0]:
            chosen = own if own[0] > every[0] else every
        else:
            chosen = own if own[1] < every[1] else every
        best = chosen[2]  # (channel, granted, occurred_at's rank, event_id)
        consent = self.consents.get(best)
        if consent is None:
            # What ``_latest`` makes of its one state, without its ``max``.
            consent = self.consents[best] = ConsentFacts(
                granted=best[1], event_id=best[3]
            )
        return consent


def patient_fact_rows(queryset: QuerySet[Patient], *extra: str) -> QuerySet:
    """The patients as ``PageFacts`` reads them (dicts), with ``extra``
    fields: a caller that needs other columns of the same patients reads them
    all in one query and hands the rows over (``rows=``)."""
    return _patient_rows(queryset.order_by()).values(*PATIENT_FIELDS, *extra)


def _profile(row: dict) -> tuple:
    """What ``evaluate`` reads of a patient row (addresses only for being
    there): equal profiles, equal answers."""
    return (
        row["time_zone"],
        row["erased_at"] is not None,
        bool(row["email"]),
        row["preferences__email_verified_at"] is not None,
        row["preferences__email_invalid_at"] is not None,
        bool(row["phone_text"]),
        row["phone_is_mobile"],
        row["preferences__phone_verified_at"] is not None,
        row["preferences__phone_invalid_at"] is not None,
        row["preferences__send_from"],
        row["preferences__send_until"],
        row["preferences__marketing_per_week"],
    )


def _with_event(decision: Decision, consent: ConsentFacts | None) -> Decision:
    """The shared answer with this patient's own opt-in behind it: ``evaluate``
    puts the consent state's event id in the ``Why`` or none at all."""
    why = decision.why
    if why is None or why.consent_event_id is None:
        return decision
    if consent is None or why.consent_event_id == consent.event_id:
        return decision
    return Decision(
        decision.outcome,
        decision.reason,
        decision.until,
        Why(why.purpose, why.lawful_basis, consent.event_id),
    )
