"""Validators shared by the clinic records."""

import datetime
import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


@cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """Accept IANA time zone names only ("Europe/Paris", not "CET+1")."""
    if value not in available_time_zones():
        raise ValidationError(
            _(
                "“%(value)s” is not a known time zone; use an IANA name such as Europe/Paris."
            ),
            code="invalid_time_zone",
            params={"value": value},
        )


def validate_birth_date(value: datetime.date) -> None:
    if value > timezone.localdate():
        raise ValidationError(
            _("The birth date cannot be in the future."), code="birth_date_future"
        )
    if value.year < 1900:
        raise ValidationError(
            _("The birth date must be after 1900."), code="birth_date_too_old"
        )
