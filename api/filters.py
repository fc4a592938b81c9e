"""Query filters shared by the list endpoints."""

import datetime

from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend

from django.utils.dateparse import parse_datetime


def aware_datetime_param(name: str, raw: str) -> datetime.datetime:
    """The query parameter ``name`` as an aware date-time, or a 400 naming it
    (malformed, impossible like 12:99, or without a time zone)."""
    try:
        moment = parse_datetime(raw)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 (Python allows ±23:59).
        if moment is not None and moment.tzinfo is not None:
            moment = moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # impossible (12:99), or out of range
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError(
            {name: ["Give an ISO 8601 date-time with a time zone."]}
        )
    return moment


def choice_param(request, name: str, choices: list[str]) -> str | None:
    """The query parameter ``name`` when it is one of ``choices``, None when
    absent, or a 400 naming it. An empty value is refused like any other
    unknown one: ignoring it would answer every row to a filter that meant to
    ask for some."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise exceptions.ValidationError({name: [f"One of {', '.join(choices)}."]})
    return raw


class UpdatedSinceFilter(BaseFilterBackend):
    """``?updated_since=2026-11-01T00:00:00Z``: rows changed at or after it."""

    param = "updated_since"

    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get(self.param)
        if raw is None:
            return queryset
        # An empty value is refused like any malformed one: ignoring it would
        # answer every row to a sync that meant to ask for some.
        moment = aware_datetime_param(self.param, raw)
        return queryset.filter(updated_at__gte=moment)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.param,
                "in": "query",
                "required": False,
                "description": "Only rows changed at or after this ISO 8601 "
                "date-time (with time zone).",
                "schema": {"type": "string", "format": "date-time"},
            }
        ]
