"""Sign-in lockouts: per (account, address) pair, with a ceiling per address.

Clinics, families and mobile carriers put many people behind one address, so
five wrong passwords lock that account *from that address* only
(``AXES_LOCKOUT_PARAMETERS``); nobody else behind it is affected, and nobody
elsewhere can lock a patient out by typing their username. Against password
spraying (a few guesses on each of many accounts) one address is stopped
after ``SIGN_IN_FAILURES_PER_ADDRESS`` failures of any account in the
cool-off period. Both counts are django-axes' ``AccessAttempt`` rows in the
database, so every web process sees the same lockout.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out

from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone


def _threshold(request: HttpRequest) -> datetime.datetime:
    at = getattr(request, "axes_attempt_time", None) or timezone.now()
    return at - get_cool_off(request)


def _address_attempts(request: HttpRequest):
    return AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=_threshold(request)
    )


def _pair_attempts(request: HttpRequest, credentials: dict | None):
    return AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=request.axes_ip_address,
        attempt_time__gte=_threshold(request),
    )


def _address_over_ceiling(request: HttpRequest) -> bool:
    if getattr(request, "axes_ip_address", None) is None:
        return False
    total = _address_attempts(request).aggregate(n=Sum("failures_since_start"))["n"]
    return (total or 0) >= settings.SIGN_IN_FAILURES_PER_ADDRESS


class PairAndAddressHandler(AxesDatabaseHandler):
    """axes' database handler, counting the (account, address) pair as its
    lockout parameters say, plus the per-address ceiling."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or _address_over_ceiling(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if (
            request is None
            or getattr(request, "axes_locked_out", False)
            or not _address_over_ceiling(request)
        ):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )


def _unlocks_at(
    rows: Iterable[tuple[datetime.datetime, int]], limit: int, cool_off
) -> datetime.datetime | None:
    """When a sliding count of failures falls below ``limit``: each row counts
    until its last failure is ``cool_off`` old, oldest first."""
    rows = sorted(rows)
    total = sum(failures for _at, failures in rows)
    unlocks = None
    for at, failures in rows:
        if total < limit:
            break
        total -= failures
        unlocks = at + cool_off
    return unlocks


def lockout_ends_at(
    request: HttpRequest, credentials: dict | None = None
) -> datetime.datetime | None:
    """When this request's client may try again: the later of the pair's and
    the address's ends, or None when neither is locked."""
    if getattr(request, "axes_ip_address", None) is None:
        return None
    cool_off = get_cool_off(request)
    fields = ("attempt_time", "failures_since_start")
    ends = [
        _unlocks_at(
            _pair_attempts(request, credentials).values_list(*fields),
            settings.AXES_FAILURE_LIMIT,
            cool_off,
        ),
        _unlocks_at(
            _address_attempts(request).values_list(*fields),
            settings.SIGN_IN_FAILURES_PER_ADDRESS,
            cool_off,
        ),
    ]
    return max((end for end in ends if end is not None), default=None)
