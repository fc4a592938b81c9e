"""The preference centre's topic × channel matrix: what the patient allows now,
and writing only the cells they changed to the ledger.

Reads the derived ``ConsentState`` the way ``consent.selectors.decide`` does
(latest of topic and purpose, channel or all; the purpose's default otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from clinic.models import Patient
from consent.models import ALL_CHANNELS, ConsentState, Topic, scope_key
from consent.services import consent_grant, consent_withdraw
from consent.vocabulary import Channel, Purpose


@dataclass
class Cell:
    topic: Topic
    channel: str
    granted: bool
    locked: bool  # shown, always on, cannot be changed here

    @property
    def name(self) -> str:
        return f"consent_{self.topic.slug}_{self.channel}"

    @property
    def label(self) -> str:
        return Channel(self.channel).label


def matrix_topics(patient: Patient) -> list[Topic]:
    return list(
        Topic.objects.for_organization(patient.organization_id).order_by(
            "purpose", "slug"
        )
    )


def _states(patient: Patient) -> dict[tuple[str, str], tuple]:
    """(scope, channel) → (occurred_at, event id, granted) for the patient."""
    return {
        (scope, channel): (occurred_at, event_id, granted)
        for scope, channel, occurred_at, event_id, granted in ConsentState.objects.filter(
            patient=patient
        ).values_list("scope", "channel", "occurred_at", "event_id", "granted")
    }


def _granted(states: dict, topic: Topic, channel: str) -> bool:
    """The latest of the topic's and its purpose's states on this channel or
    all channels, as ``consent.selectors.decide`` reads them; the purpose's
    default when there is none (campaigns off, care and feedback on)."""
    found = [
        states[key]
        for key in (
            (scope_key(topic_id=topic.pk), channel),
            (scope_key(topic_id=topic.pk), ALL_CHANNELS),
            (scope_key(purpose=topic.purpose), channel),
            (scope_key(purpose=topic.purpose), ALL_CHANNELS),
        )
        if key in states
    ]
    if not found:
        return topic.purpose != Purpose.MARKETING
    return max(found)[2]


def consent_matrix(patient: Patient, topics: list[Topic]) -> list[tuple[Topic, list]]:
    """Rows of (topic, cells): None where the topic does not use the channel."""
    states = _states(patient)
    rows = []
    for topic in topics:
        cells = []
        for channel in Channel.values:
            if channel not in topic.channels:
                cells.append(None)
                continue
            locked = topic.purpose == Purpose.SECURITY or (
                topic.purpose == Purpose.CARE and channel == Channel.INAPP
            )
            granted = locked or _granted(states, topic, channel)
            cells.append(Cell(topic, channel, granted, locked))
        rows.append((topic, cells))
    return rows


@transaction.atomic
def consent_matrix_save(
    *, patient: Patient, matrix: list, wanted: set[str], **evidence: Any
) -> int:
    """Write one ledger event per changed cell (``wanted``: the names of the
    cells the patient ticked); return how many. Locked cells never change."""
    changed = 0
    for _topic, cells in matrix:
        for cell in cells:
            if cell is None or cell.locked:
                continue
            ticked = cell.name in wanted
            if ticked == cell.granted:
                continue
            record = consent_grant if ticked else consent_withdraw
            record(patient=patient, topic=cell.topic, channel=cell.channel, **evidence)
            changed += 1
    return changed
