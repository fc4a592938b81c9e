"""What was already sent to a patient, counted the way the limits count it.

One definition, in two forms that a test keeps equal: ``aggregates`` counts in
the database (planning reads thousands of patients' histories at once), and
``count`` counts rows already loaded (a worker admitting a batch adds its own
admissions as it goes, which no aggregate read beforehand can see).

- **Period**: what any rule looks at, ``(at - history_days, at]``.
- **purpose_count**: distinct messages of the topic's purpose within its cap
  period (campaigns a week, surveys ``survey_every_days``, care
  ``care_cap_days``), whatever their class.
- **budget_count**: distinct messages of every class but security within the
  budget period: higher classes use the budget up, lower ones give way.
- **duplicate**: a send with the same content within the duplicate window.
- The messages being decided never count against themselves (``exclude``):
  a message's fallback channel is not blocked by its own first send.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db.models import Count, Q

from consent.policy import History, Rules
from consent.vocabulary import PriorityClass


@dataclass(frozen=True, slots=True)
class Sent:
    """One send record, as ``count`` reads it."""

    message_key: str
    purpose: str
    priority: int
    content_hash: str
    sent_at: datetime.datetime


SENT_FIELDS = ("message_key", "purpose", "priority", "content_hash", "sent_at")


def period(rules: Rules, at: datetime.datetime) -> Q:
    """The send records any rule of ``rules`` looks at."""
    return Q(
        sent_at__gt=at - datetime.timedelta(days=rules.history_days), sent_at__lte=at
    )


def _cap_start(rules: Rules, at: datetime.datetime) -> datetime.datetime:
    return at - datetime.timedelta(days=rules.cap_days)


def _budget_start(rules: Rules, at: datetime.datetime) -> datetime.datetime:
    return at - datetime.timedelta(days=rules.fatigue_budget_days)


def _duplicate_start(rules: Rules, at: datetime.datetime) -> datetime.datetime:
    return at - datetime.timedelta(hours=rules.duplicate_window_hours)


def aggregates(rules: Rules, at: datetime.datetime, content_hash: str = "") -> dict:
    """Aggregates over a patient's records in ``period`` that give the fields
    of ``History`` (``duplicates`` > 0 meaning ``duplicate``)."""
    counted = {
        "purpose_count": Count(
            "message_key",
            distinct=True,
            filter=Q(purpose=rules.purpose, sent_at__gt=_cap_start(rules, at)),
        ),
        "budget_count": Count(
            "message_key",
            distinct=True,
            filter=Q(sent_at__gt=_budget_start(rules, at))
            & ~Q(priority=PriorityClass.SECURITY),
        ),
    }
    if content_hash:
        counted["duplicates"] = Count(
            "id",
            filter=Q(
                content_hash=content_hash, sent_at__gt=_duplicate_start(rules, at)
            ),
        )
    return counted


def from_aggregates(row: dict) -> History:
    """The ``History`` of one row of ``aggregates``."""
    return History(
        row["purpose_count"], row["budget_count"], bool(row.get("duplicates"))
    )


def count(
    rules: Rules,
    at: datetime.datetime,
    records: Iterable[Sent],
    *,
    exclude: Collection[str] = (),
    content_hash: str = "",
) -> History:
    """``History`` from one patient's loaded records, as ``aggregates`` counts."""
    oldest = at - datetime.timedelta(days=rules.history_days)
    cap_start, budget_start = _cap_start(rules, at), _budget_start(rules, at)
    duplicate_start = _duplicate_start(rules, at)
    same_purpose: set[str] = set()
    budget: set[str] = set()
    duplicate = False
    for record in records:
        if not oldest < record.sent_at <= at or record.message_key in exclude:
            continue
        if record.purpose == rules.purpose and record.sent_at > cap_start:
            same_purpose.add(record.message_key)
        if record.priority != PriorityClass.SECURITY and record.sent_at > budget_start:
            budget.add(record.message_key)
        if (
            content_hash
            and record.content_hash == content_hash
            and record.sent_at > duplicate_start
        ):
            duplicate = True
    return History(len(same_purpose), len(budget), duplicate)
