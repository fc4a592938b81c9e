"""Recurring care reminders: create, change, pause, resume, and the finder
that sends what is due (docs/outreach.md, "Recurring care reminders").

Occurrences are the rule's local date-times in the patient's time zone, each
turned into a UTC instant on its own day, so 08:00 stays 08:00 local across
daylight-saving changes. A local time that does not exist (the clocks jump
forward) is sent an hour later on the clock (02:30 → 03:30); one that happens
twice is sent the first time.

After downtime only the latest missed occurrence is sent, never a burst; an
occurrence inside a pause is skipped, not sent later.
"""

from __future__ import annotations

import datetime
import logging
import warnings
import zoneinfo
from collections.abc import Iterator
from typing import Any

from dateutil.rrule import MINUTELY, SECONDLY, rrule, rrulestr

from django.apps import AppConfig
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from consent.vocabulary import Purpose
from core.scheduler import register_due
from messaging.services import message_send
from outreach.recurring.models import CareSchedule

logger = logging.getLogger(__name__)

UTC = datetime.UTC
# How far a rule is searched for its next occurrence: a recall every ten years
# fires within it; a rule that fires later than this counts as never firing.
HORIZON = datetime.timedelta(days=366 * 11)
BATCH = 500


def rule_parse(schedule: CareSchedule) -> rrule:
    """The schedule's rule, from its local start; raises ValidationError."""
    text = (schedule.rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text:
        raise ValidationError({"rule": _("Give a recurrence rule.")})
    if "\n" in text or "DTSTART" in text.upper() or ":" in text:
        raise ValidationError(
            {
                "rule": _(
                    "Give one RRULE only (e.g. FREQ=DAILY;BYHOUR=8); the start is "
                    "set by the start date and time."
                )
            }
        )
    if schedule.start_date is None or schedule.start_time is None:
        raise ValidationError(_("Give a start date and time."))
    start = datetime.datetime.combine(schedule.start_date, schedule.start_time)
    try:
        rule = rrulestr(text, dtstart=start.replace(second=0, microsecond=0))
    except (ValueError, TypeError) as error:
        raise ValidationError(
            {
                "rule": _("This is not a valid recurrence rule: %(error)s")
                % {"error": error}
            }
        ) from None
    if not isinstance(rule, rrule):
        raise ValidationError({"rule": _("Give one RRULE only.")})
    if rule._freq in (SECONDLY, MINUTELY):
        raise ValidationError(
            {"rule": _("A care reminder cannot repeat more often than every hour.")}
        )
    return rule


def _bounded(rule: rrule, end: datetime.datetime) -> rrule:
    """The rule stopped at ``end`` (local): dateutil otherwise searches a rule
    that never fires up to the year 9999."""
    if rule._until is not None and rule._until <= end:
        return rule
    with warnings.catch_warnings():
        # dateutil warns when COUNT and UNTIL are both set; here both are meant.
        warnings.simplefilter("ignore", DeprecationWarning)
        return rule.replace(until=end)


def occurrences_after(
    schedule: CareSchedule, after: datetime.datetime
) -> Iterator[datetime.datetime]:
    """The schedule's occurrences strictly after ``after``, as UTC instants,
    in order, up to its ``until`` date and at most HORIZON ahead."""
    tz = zoneinfo.ZoneInfo(schedule.patient.time_zone)
    rule = rule_parse(schedule)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    end = max(local_after, rule._dtstart) + HORIZON
    if schedule.until is not None:
        end = min(end, datetime.datetime.combine(schedule.until, datetime.time.max))
    # Start a little early: local times are not monotonic in UTC around a
    # clock change; each occurrence is then compared as an instant.
    search_from = local_after - datetime.timedelta(hours=3)
    for local in _bounded(rule, end).xafter(search_from, inc=True):
        instant = local.replace(tzinfo=tz).astimezone(UTC)
        if instant > after:
            yield instant


def next_occurrence(
    schedule: CareSchedule, after: datetime.datetime
) -> datetime.datetime | None:
    """The first occurrence strictly after ``after`` (UTC), or None: ended."""
    return next(occurrences_after(schedule, after), None)


def care_schedule_validate(*, schedule: CareSchedule) -> None:
    """Every check a save makes; raises ValidationError. Reads only."""
    schedule.full_clean()
    errors: dict[str, Any] = {}
    if schedule.topic.organization_id != schedule.organization_id:
        errors["topic"] = _("This topic belongs to another organization.")
    elif schedule.topic.purpose != Purpose.CARE:
        errors["topic"] = _("Care reminders need a care topic.")
    if schedule.patient.organization_id != schedule.organization_id:
        errors["patient"] = _("This patient belongs to another organization.")
    if errors:
        raise ValidationError(errors)
    rule_parse(schedule)
    start = datetime.datetime.combine(schedule.start_date, schedule.start_time).replace(
        tzinfo=zoneinfo.ZoneInfo(schedule.patient.time_zone)
    )
    if next_occurrence(schedule, start - datetime.timedelta(seconds=1)) is None:
        raise ValidationError(
            {
                "rule": _(
                    "This rule never fires between the start and the end date "
                    "(or in the ten years after the start)."
                )
            }
        )


def _schedule_next(schedule: CareSchedule, now: datetime.datetime) -> None:
    schedule.next_due_at = next_occurrence(schedule, now)


@transaction.atomic
def care_schedule_save(
    *, schedule: CareSchedule, now: datetime.datetime | None = None
) -> CareSchedule:
    """Validate a schedule (new or changed), compute its next occurrence after
    ``now`` and save it; raises ValidationError (an rrule that never fires, an
    end date before the start, a topic that is not a care topic)."""
    if schedule.patient_id and not schedule.organization_id:
        schedule.organization_id = schedule.patient.organization_id
    care_schedule_validate(schedule=schedule)
    _schedule_next(schedule, now or timezone.now())
    schedule.save()
    return schedule


def care_schedule_create(*, patient, topic, **fields: Any) -> CareSchedule:
    now = fields.pop("now", None)
    return care_schedule_save(
        schedule=CareSchedule(
            organization_id=patient.organization_id,
            patient=patient,
            topic=topic,
            **fields,
        ),
        now=now,
    )


def care_schedule_update(
    *, schedule: CareSchedule, now: datetime.datetime | None = None, **fields: Any
) -> CareSchedule:
    for name, value in fields.items():
        setattr(schedule, name, value)
    return care_schedule_save(schedule=schedule, now=now)


@transaction.atomic
def care_schedule_pause(
    *, schedule: CareSchedule, until: datetime.datetime | None = None
) -> CareSchedule:
    """Stop sending: until resumed, or (``until``) until that moment, with
    the occurrences in between skipped."""
    if until is None:
        schedule.paused = True
    else:
        schedule.paused_until = until
    schedule.save(update_fields=["paused", "paused_until", "updated_at"])
    return schedule


@transaction.atomic
def care_schedule_resume(
    *, schedule: CareSchedule, now: datetime.datetime | None = None
) -> CareSchedule:
    """Send again from the next occurrence after ``now`` (nothing missed is sent)."""
    now = now or timezone.now()
    schedule.paused, schedule.paused_until = False, None
    _schedule_next(schedule, now)
    schedule.save(update_fields=["paused", "paused_until", "next_due_at", "updated_at"])
    return schedule


def _send(
    schedule: CareSchedule, occurrence: datetime.datetime, now: datetime.datetime
) -> None:
    """One reminder through the pipeline. The label is health data: it goes
    as confidential text, which only the inbox shows; SMS and email carry the
    notice with the portal link and the authenticity code."""
    patient = schedule.patient
    with translation.override(patient.preferred_language):
        subject = _("Care reminder")
        text = _("Reminder: %(label)s") % {"label": schedule.label}
    message_send(
        patient=patient,
        topic=schedule.topic,
        origin="reminder",
        origin_ref=f"care-schedule:{schedule.pk}",
        text=text,
        subject=subject,
        confidential=True,
        idempotency_key=f"care:{schedule.pk}:{occurrence.isoformat()}",
        at=now,  # consent judges the moment it is sent (quiet hours)
    )


def care_schedules_send_due(now: datetime.datetime | None = None) -> int:
    """The finder: send every due schedule's latest occurrence once and move
    it to its next one; returns the reminders planned.

    Several clusters may run it at once: each claims rows with SELECT … FOR
    UPDATE SKIP LOCKED and moves ``next_due_at`` in the same transaction, so a
    schedule is planned by one of them; the idempotency key
    ``care:<schedule id>:<occurrence>`` makes a re-run send nothing twice.
    """
    now = now or timezone.now()
    planned = 0
    while True:
        with transaction.atomic():
            batch = list(
                CareSchedule.objects.due(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("patient__organization", "topic")
                .order_by("next_due_at", "pk")[:BATCH]
            )
            for schedule in batch:
                planned += _plan_one(schedule, now)
        if len(batch) < BATCH:
            return planned


def _plan_one(schedule: CareSchedule, now: datetime.datetime) -> int:
    """Send the latest occurrence due at ``now`` (unless paused then) and move
    the schedule on; 1 if a reminder was planned."""
    try:
        latest, following = None, None
        for occurrence in occurrences_after(
            schedule, schedule.next_due_at - datetime.timedelta(microseconds=1)
        ):
            if occurrence > now:
                following = occurrence
                break
            latest = occurrence
    except ValidationError:  # the rule was broken by hand: stop, loudly
        logger.warning("care schedule %s has an invalid rule; ended", schedule.pk)
        latest = following = None
    sent = 0
    if latest is not None and (
        schedule.paused_until is None or latest >= schedule.paused_until
    ):
        try:
            with transaction.atomic():
                _send(schedule, latest, now)
        except Exception:
            # Logged with ids only (the label is health data); the occurrence
            # is skipped rather than retried every minute.
            logger.exception("care schedule %s: reminder not planned", schedule.pk)
        else:
            schedule.last_occurrence_at, schedule.last_sent_at = latest, now
            sent = 1
    schedule.next_due_at = following
    schedule.save(
        update_fields=[
            "next_due_at",
            "last_occurrence_at",
            "last_sent_at",
            "updated_at",
        ]
    )
    return sent


def register(app_config: AppConfig) -> None:
    """Called from OutreachConfig.ready()."""
    register_due(app_config, "recurring", care_schedules_send_due)
