"""Reminder offsets: when, before an appointment, a reminder goes out. Pure.

Staff write offsets as a comma-separated list:

- ``7d``, ``48h``, ``90m``: a duration before the start (absolute time: 48 h
  before is 48 real hours before, whatever the clocks do in between);
- ``1d@18:00``: N days before, at that clock time in the patient's own time
  zone ("the day before at 18:00"); ``0d@08:00`` is the same morning.

``j`` is read as ``d`` (jours), so French-speaking staff can write ``7j``.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MAX_OFFSETS = 10
MAX_DAYS = 90
_DURATION = re.compile(r"^(\d{1,5})\s*([dhm])$")
_AT_CLOCK = re.compile(r"^(\d{1,2})\s*d\s*@\s*(\d{1,2}):(\d{2})$")
_MINUTES = {"d": 24 * 60, "h": 60, "m": 1}


@dataclass(frozen=True)
class Offset:
    """One offset. ``key`` is its canonical text, stored on each Reminder so
    that reordering or editing the list never confuses sent and pending ones."""

    key: str
    minutes: int = 0  # duration kind
    days: int = 0  # clock kind
    clock: datetime.time | None = None

    def due_at(self, starts_at: datetime.datetime, time_zone: str) -> datetime.datetime:
        """When the reminder for an appointment starting at ``starts_at`` is due, in UTC.

        The clock kind computes the local date in ``time_zone`` first, then
        that date's clock time there, so a daylight-saving change between
        the reminder and the appointment moves nothing. A clock time that
        does not exist that day (skipped by a spring-forward jump) lands
        after the jump (02:30 → 03:30), as consent's time rules do; one that
        exists twice (fall back) is its first occurrence.
        """
        if self.clock is None:
            return (starts_at - datetime.timedelta(minutes=self.minutes)).astimezone(
                datetime.UTC
            )
        tz = zoneinfo.ZoneInfo(time_zone)
        day = starts_at.astimezone(tz).date() - datetime.timedelta(days=self.days)
        return datetime.datetime.combine(day, self.clock, tzinfo=tz).astimezone(
            datetime.UTC
        )


def _parse_one(text: str) -> Offset:
    token = text.strip().lower().replace("j", "d")
    if match := _DURATION.match(token):
        amount, unit = int(match[1]), match[2]
        minutes = amount * _MINUTES[unit]
        if minutes <= 0 or minutes > MAX_DAYS * 24 * 60:
            raise ValidationError(
                _("%(offset)s: give a duration between 1 minute and %(days)s days.")
                % {"offset": text.strip(), "days": MAX_DAYS}
            )
        return Offset(key=f"{amount}{unit}", minutes=minutes)
    if match := _AT_CLOCK.match(token):
        days, hour, minute = int(match[1]), int(match[2]), int(match[3])
        if days > MAX_DAYS or hour > 23 or minute > 59:
            raise ValidationError(
                _("%(offset)s: give 0 to %(days)s days and a time from 00:00 to 23:59.")
                % {"offset": text.strip(), "days": MAX_DAYS}
            )
        return Offset(
            key=f"{days}d@{hour:02d}:{minute:02d}",
            days=days,
            clock=datetime.time(hour, minute),
        )
    raise ValidationError(
        _(
            "%(offset)s is not an offset: write 7d, 48h or 30m for a time before "
            "the appointment, or 1d@18:00 for the day before at 18:00."
        )
        % {"offset": text.strip()}
    )


def offsets_parse(text: str) -> list[Offset]:
    """The offsets of a rule, in the order written. Raises ValidationError
    (every problem at once) for an unknown form, an out-of-range value, a
    duplicate (48h and 2d are the same moment) or more than MAX_OFFSETS."""
    parts = [part for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise ValidationError(_("Give at least one offset, e.g. 48h."))
    if len(parts) > MAX_OFFSETS:
        raise ValidationError(
            _("At most %(count)s offsets per rule.") % {"count": MAX_OFFSETS}
        )
    offsets, errors, seen = [], [], set()
    for part in parts:
        try:
            offset = _parse_one(part)
        except ValidationError as error:
            errors.extend(error.messages)
            continue
        identity = (offset.minutes, offset.days, offset.clock)
        if identity in seen:
            errors.append(_("%(offset)s is given twice.") % {"offset": part.strip()})
        seen.add(identity)
        offsets.append(offset)
    if errors:
        raise ValidationError(errors)
    return offsets


def validate_offsets(text: str) -> None:
    offsets_parse(text)
