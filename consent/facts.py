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
from collections import defaultdict
from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.db.models import QuerySet

from clinic.models import Patient
from clinic.scoping import filter_ids
from consent.errors import ConsentError
from consent.models import ALL_CHANNELS, ConsentState, SendRecord, Topic
from consent.policy import Decision, History, evaluate
from consent.selectors import (
    _history_filter,
    _latest,
    _patient_facts,
    _patient_rows,
    _state_filter,
    rules_for,
)


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
    ):
        self.rules = rules_for(topic)
        self.at = at
        patients = (
            everyone if everyone is not None else filter_ids(Patient.objects.all(), ids)
        )
        self.rows = {row["id"]: row for row in _patient_rows(patients.order_by())}
        if len(self.rows) != len(set(ids)):
            raise ConsentError("Some patients do not exist.")
        if any(
            row["organization_id"] != topic.organization_id
            for row in self.rows.values()
        ):
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
        self.states: dict[int, list[tuple]] = defaultdict(list)
        for patient_id, *state in states.values_list(
            "patient_id", "channel", "granted", "occurred_at", "event_id"
        ).order_by():
            self.states[patient_id].append(tuple(state))
        history_rows, counted = _history_filter(self.rules, at)
        self.histories = {
            row["patient_id"]: History(row["purpose_count"], row["budget_count"])
            for row in filter_ids(
                SendRecord.objects.filter(history_rows), ids, column="patient_id"
            )
            .values("patient_id")
            .annotate(**counted)
            .order_by()
        }
        self.empty = History()

    def decide(self, patient_id: int, channel: str) -> Decision:
        states = [
            state
            for state in self.states.get(patient_id, ())
            if state[0] in (channel, ALL_CHANNELS)
        ]
        facts = _patient_facts(
            self.rows[patient_id],
            _latest(states),
            self.histories.get(patient_id, self.empty),
        )
        return evaluate(self.rules, facts, channel, self.at)
