"""The consent policy as a pure function: facts in, decision out.

``evaluate`` reads nothing from the database and has no side effect. The
selectors (``consent.selectors.decide`` and ``decide_many``) gather the facts,
one patient at a time or set-wise, and both call it, so they cannot disagree
on the rules, only on the facts they load, which the tests compare.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache

import holidays

from consent.vocabulary import (
    BUDGET_HEADROOM,
    LAWFUL_BASIS,
    Channel,
    Outcome,
    PriorityClass,
    Purpose,
    Reason,
)

MAX_SEARCH_STEPS = 200  # enough for a year of forbidden days and windows


@dataclass(frozen=True)
class Why:
    """Why a patient receives a message: shown beside every message in the portal."""

    purpose: str
    lawful_basis: str
    consent_event_id: int | None = None  # the opt-in behind it, if any

    def as_dict(self) -> dict:
        return {
            "purpose": self.purpose,
            "lawful_basis": self.lawful_basis,
            "consent_event_id": self.consent_event_id,
        }


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str | None = None
    until: datetime.datetime | None = None
    why: Why | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == Outcome.ALLOW

    @property
    def reason_label(self) -> str:
        return str(Reason(self.reason).label) if self.reason else ""


def suppress(reason: str) -> Decision:
    return Decision(Outcome.SUPPRESS, reason)


@dataclass(frozen=True)
class VoiceWindow:
    days: frozenset[int]
    start: datetime.time
    end: datetime.time


@dataclass(frozen=True)
class Rules:
    """Everything about the topic and its organization that the decision needs."""

    topic_id: int
    purpose: str
    channels: frozenset[str]
    urgent: bool
    priority: int  # consent.vocabulary.PriorityClass
    country: str
    send_from: datetime.time
    send_until: datetime.time
    urgent_send_from: datetime.time
    urgent_send_until: datetime.time
    marketing_on_sundays: bool
    marketing_on_holidays: bool
    voice_windows: tuple[VoiceWindow, ...]
    marketing_per_week: int
    care_cap: int | None
    care_cap_days: int
    survey_every_days: int
    fatigue_budget: int
    fatigue_budget_days: int
    duplicate_window_hours: int

    @property
    def cap_days(self) -> int:
        """The look-back period of this purpose's frequency cap."""
        if self.purpose == Purpose.MARKETING:
            return 7
        if self.purpose == Purpose.FEEDBACK:
            return self.survey_every_days
        return self.care_cap_days

    @property
    def history_days(self) -> int:
        """How far back any rule looks, so loaders fetch no more history than needed."""
        return max(
            self.cap_days,
            self.fatigue_budget_days,
            -(-self.duplicate_window_hours // 24),
        )


@dataclass(frozen=True)
class ConsentFacts:
    """The latest ledger state that applies to one topic × channel, if any."""

    granted: bool
    event_id: int


@dataclass(frozen=True)
class History:
    """What was already sent to the patient, counted over each rule's period."""

    purpose_count: int = 0  # messages of the topic's purpose in the cap period
    budget_count: int = 0  # messages of every class but security, budget period
    duplicate: bool = False  # the same content in the duplicate window


@dataclass(frozen=True)
class PatientFacts:
    patient_id: int
    time_zone: str
    erased: bool = False
    email: str = ""
    email_verified: bool = False
    email_invalid: bool = False
    phone: str = ""
    phone_is_mobile: bool = False
    phone_verified: bool = False
    phone_invalid: bool = False
    send_from: datetime.time | None = None
    send_until: datetime.time | None = None
    marketing_per_week: int | None = None
    consent: ConsentFacts | None = None
    history: History = field(default_factory=History)


def parse_clock_pair(start: str, end: str) -> tuple[datetime.time, datetime.time]:
    return datetime.time.fromisoformat(start), datetime.time.fromisoformat(end)


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=64)
def holiday_calendar(country: str, year: int) -> frozenset[datetime.date]:
    return frozenset(holidays.country_holidays(country, years=year).keys())


def evaluate(
    rules: Rules, facts: PatientFacts, channel: str, at: datetime.datetime
) -> Decision:
    """Decide whether a message of ``rules``' topic may go to a patient on ``channel`` at ``at``.

    Returns allow (with why), defer (with until and reason) or suppress (with reason).
    """
    if facts.erased:
        return suppress(Reason.PATIENT_ERASED)
    if channel not in rules.channels:
        return suppress(Reason.CHANNEL_NOT_ALLOWED)
    address_problem = _address_problem(rules, facts, channel)
    if address_problem:
        return suppress(address_problem)
    consent_problem, event_id = _consent(rules, facts, channel)
    if consent_problem:
        return suppress(consent_problem)
    # The inbox copy of a care message is the patient's record of their care:
    # no cap or budget removes it.
    inbox_care = channel == Channel.INAPP and rules.purpose == Purpose.CARE
    if rules.purpose != Purpose.SECURITY and not inbox_care:
        limit_problem = _limits(rules, facts)
        if limit_problem:
            return suppress(limit_problem)
    why = Why(rules.purpose, LAWFUL_BASIS[rules.purpose], event_id)
    until, reason = next_allowed_moment(rules, facts, channel, at)
    if until != at:
        return Decision(Outcome.DEFER, reason, until, why)
    return Decision(Outcome.ALLOW, None, None, why)


def _address_problem(rules: Rules, facts: PatientFacts, channel: str) -> str | None:
    security = rules.purpose == Purpose.SECURITY
    if channel == Channel.EMAIL:
        if not facts.email:
            return Reason.NO_CONTACT_POINT
        if facts.email_invalid:
            return Reason.INVALID_ADDRESS
        if security and not facts.email_verified:
            return Reason.UNVERIFIED_CONTACT
    elif channel in (Channel.SMS, Channel.VOICE):
        if not facts.phone:
            return Reason.NO_CONTACT_POINT
        if facts.phone_invalid or (
            channel == Channel.SMS and not facts.phone_is_mobile
        ):
            return Reason.INVALID_ADDRESS
        if security and not facts.phone_verified:
            return Reason.UNVERIFIED_CONTACT
    return None


def _consent(
    rules: Rules, facts: PatientFacts, channel: str
) -> tuple[str | None, int | None]:
    """(problem, the event behind the permission) for the purpose's consent rule."""
    purpose = rules.purpose
    if purpose == Purpose.SECURITY:
        return None, None
    if purpose == Purpose.CARE and channel == Channel.INAPP:
        return None, None  # the secure inbox can never be switched off for care
    state = facts.consent
    if purpose == Purpose.MARKETING:
        if state is None:
            return Reason.NO_OPT_IN, None
        return (None, state.event_id) if state.granted else (Reason.OPTED_OUT, None)
    # care and feedback are on until withdrawn
    if state is not None and not state.granted:
        return Reason.OPTED_OUT, None
    return None, state.event_id if state is not None else None


def _limits(rules: Rules, facts: PatientFacts) -> str | None:
    """The duplicate check, then the caps and the fatigue budget, which hold
    back routine care and below only: essential care (appointments, messages
    to acknowledge, urgent care) never loses to them. Higher classes' sends
    count against the lower classes' allowances, never the reverse."""
    history = facts.history
    if history.duplicate:
        return Reason.DUPLICATE
    if rules.priority <= PriorityClass.ESSENTIAL:
        return None
    if rules.purpose == Purpose.MARKETING:
        cap = rules.marketing_per_week
        if facts.marketing_per_week is not None:
            cap = min(cap, facts.marketing_per_week)
        if history.purpose_count >= cap:
            return Reason.FREQUENCY_CAP
    elif rules.purpose == Purpose.FEEDBACK:
        if history.purpose_count >= 1:
            return Reason.SURVEY_RECENTLY
    elif rules.care_cap is not None and history.purpose_count >= rules.care_cap:
        return Reason.FREQUENCY_CAP
    allowance = rules.fatigue_budget - BUDGET_HEADROOM[rules.priority]
    if history.budget_count >= allowance:
        return Reason.FATIGUE_BUDGET
    return None


def sending_window(
    rules: Rules, facts: PatientFacts
) -> tuple[datetime.time, datetime.time] | None:
    """The local hours messages may go out, or None when any hour will do."""
    if rules.purpose == Purpose.SECURITY:
        return None  # a one-time code is wanted now, whatever the hour
    if rules.urgent:
        return rules.urgent_send_from, rules.urgent_send_until
    if facts.send_from is not None and facts.send_until is not None:
        return facts.send_from, facts.send_until
    return rules.send_from, rules.send_until


def _at_local(
    day: datetime.date, clock: datetime.time, tz: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """``day`` at ``clock`` in ``tz``, in UTC. A clock time skipped by a
    daylight-saving jump lands just after the jump (02:30 → 03:30)."""
    naive_local = datetime.datetime.combine(day, clock, tzinfo=tz)
    return naive_local.astimezone(datetime.UTC)


def next_allowed_moment(
    rules: Rules, facts: PatientFacts, channel: str, at: datetime.datetime
) -> tuple[datetime.datetime, str | None]:
    """The first moment at or after ``at`` when every time rule allows sending.

    Returns (moment, reason of the first rule that pushed it back, or None).
    """
    if channel == Channel.INAPP:
        return at, None  # the inbox wakes nobody: it fills at any hour
    tz = zone(facts.time_zone)
    window = sending_window(rules, facts)
    marketing = rules.purpose == Purpose.MARKETING
    voice_windows = (
        rules.voice_windows if marketing and channel == Channel.VOICE else ()
    )
    moment, first_reason = at, None
    for _ in range(MAX_SEARCH_STEPS):
        local = moment.astimezone(tz)
        clock, day = local.time(), local.date()
        if window is not None and not (window[0] <= clock < window[1]):
            start_day = day if clock < window[0] else day + datetime.timedelta(days=1)
            candidate, reason = _at_local(start_day, window[0], tz), Reason.QUIET_HOURS
        elif marketing and _forbidden_day(rules, day):
            candidate = _at_local(
                day + datetime.timedelta(days=1), datetime.time(0), tz
            )
            reason = Reason.MARKETING_DAY
        elif voice_windows and not _in_voice_window(voice_windows, local):
            candidate, reason = (
                _next_voice_window(voice_windows, local, tz),
                Reason.VOICE_WINDOW,
            )
        else:
            return moment, first_reason
        first_reason = first_reason or reason
        moment = max(candidate, moment + datetime.timedelta(seconds=1))
    msg = (
        "No allowed sending moment within the search horizon; check the policy windows."
    )
    raise ValueError(msg)


def _forbidden_day(rules: Rules, day: datetime.date) -> bool:
    if not rules.marketing_on_sundays and day.weekday() == 6:
        return True
    return not rules.marketing_on_holidays and day in holiday_calendar(
        rules.country, day.year
    )


def _in_voice_window(
    windows: tuple[VoiceWindow, ...], local: datetime.datetime
) -> bool:
    clock, weekday = local.time(), local.weekday()
    return any(weekday in w.days and w.start <= clock < w.end for w in windows)


def _next_voice_window(
    windows: tuple[VoiceWindow, ...], local: datetime.datetime, tz: zoneinfo.ZoneInfo
) -> datetime.datetime:
    for offset in range(8):
        day = local.date() + datetime.timedelta(days=offset)
        starts = sorted(
            w.start
            for w in windows
            if day.weekday() in w.days and (offset > 0 or w.start > local.time())
        )
        if starts:
            return _at_local(day, starts[0], tz)
    msg = "The voice windows allow no day of the week."
    raise ValueError(msg)
