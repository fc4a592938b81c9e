"""FHIR search: parameters (token, string, date, reference), paging, and the
searchset Bundle.

A search is strict: an unknown parameter or modifier, or a value that cannot
be parsed, is answered 400 rather than ignored, so a partner never takes an
unfiltered list for a filtered one. Repeating a parameter ANDs the values, a
comma inside one value ORs them (FHIR's rules). Paging is by cursor, like the
REST API: the ``next`` link carries an opaque ``cursor``.
"""

from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from django.db.models import Q, QuerySet

from api.fhir.base import FhirError
from clinic.fhir import fhir_validate

#: Parameters about the result, not the match.
COUNT = "_count"
CURSOR = "cursor"
FORMAT = "_format"
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
MAX_COUNT = 200
DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")


@dataclass(frozen=True)
class SearchParam:
    """One search parameter: its FHIR type, what it matches (for the
    CapabilityStatement) and ``match(view, value, modifier) -> Q`` for one
    value of a comma-separated list."""

    type: str
    documentation: str
    match: Callable[[Any, str, str], Q]
    modifiers: frozenset[str] = frozenset()


def _bad(parameter: str, diagnostics: str) -> FhirError:
    return FhirError(diagnostics, expression=parameter)


def search_filter(view: Any, params: dict[str, SearchParam]) -> Q:
    """The query's match conditions as one Q; FhirError (400) for an unknown
    parameter, modifier or format, or an unparsable value."""
    condition = Q()
    for key, values in view.request.query_params.lists():
        if key in (COUNT, CURSOR):
            continue
        if key == FORMAT:
            if any(value not in JSON_FORMATS for value in values):
                raise _bad(key, "Only JSON is served (_format=json).")
            continue
        name, _, modifier = key.partition(":")
        param = params.get(name)
        if param is None:
            raise FhirError(
                f"Unknown search parameter {name!r}; "
                f"this resource takes {', '.join(sorted(params))}.",
                code="not-supported",
                expression=name,
            )
        if modifier and modifier not in param.modifiers:
            raise FhirError(
                f"The modifier :{modifier} is not supported on {name}.",
                code="not-supported",
                expression=key,
            )
        for value in values:
            alternatives = [part for part in value.split(",") if part]
            if not alternatives:
                raise _bad(key, f"{name} needs a value.")
            either = Q()
            for part in alternatives:
                either |= param.match(view, part, modifier)
            condition &= either
    return condition


# -- values -----------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _date_prefix(raw: str) -> tuple[str, str]:
    if raw[:2] in DATE_PREFIXES:
        return raw[:2], raw[2:]
    return "eq", raw


def date_bounds(
    name: str, raw: str, time_zone: str, *, dates_only: bool = False
) -> tuple[str, Any, Any]:
    """``(prefix, low, high)``: the value's implicit range [low, high).

    Dates (2026, 2026-12, 2026-12-01) begin at midnight in ``time_zone``;
    date-times need a UTC offset. With ``dates_only``, low and high are dates.
    """
    prefix, value = _date_prefix(raw)
    found = _DATE.match(value)
    try:
        if found:
            year, month, day = found.groups()
            low = datetime.date(int(year), int(month or 1), int(day or 1))
            if day:
                high = low + datetime.timedelta(days=1)
            elif month:
                high = (low + datetime.timedelta(days=32)).replace(day=1)
            else:
                high = low.replace(year=low.year + 1)
            if dates_only:
                return prefix, low, high
            zone = zoneinfo.ZoneInfo(time_zone)
            return (
                prefix,
                datetime.datetime.combine(low, datetime.time(), zone),
                datetime.datetime.combine(high, datetime.time(), zone),
            )
        if dates_only:
            raise ValueError
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is not None:  # PostgreSQL refuses offsets beyond ±15:59
            moment = moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        raise _bad(
            name,
            f"{name} takes an optional prefix ({', '.join(DATE_PREFIXES)}) and a "
            "date (YYYY, YYYY-MM, YYYY-MM-DD)"
            + ("." if dates_only else " or a date-time with a UTC offset."),
        ) from None
    if moment.tzinfo is None:
        raise _bad(name, f"A date-time in {name} needs a UTC offset (Z or +01:00).")
    clock = re.split(r"[Z+-]", value.partition("T")[2])[0]  # without the offset
    if "." in clock:
        step = datetime.timedelta(microseconds=1)
    elif clock.count(":") == 2:
        step = datetime.timedelta(seconds=1)
    else:
        step = datetime.timedelta(minutes=1)
    return prefix, moment, moment + step


def date_match(field: str, prefix: str, low: Any, high: Any) -> Q:
    """The rows whose ``field`` (an instant or a date) falls as ``prefix`` says."""
    inside = Q(**{f"{field}__gte": low, f"{field}__lt": high})
    return {
        "eq": inside,
        "ne": ~inside,
        "lt": Q(**{f"{field}__lt": low}),
        "le": Q(**{f"{field}__lt": high}),
        "gt": Q(**{f"{field}__gte": high}),
        "ge": Q(**{f"{field}__gte": low}),
    }[prefix]


def date_param(field: str, documentation: str, *, dates_only: bool = False):
    """A date parameter on ``field``; dates read in the organization's zone."""

    def match(view: Any, value: str, modifier: str) -> Q:
        name = "birthdate" if dates_only else field
        prefix, low, high = date_bounds(
            name, value, view.organization.time_zone, dates_only=dates_only
        )
        return date_match(field, prefix, low, high)

    return SearchParam("date", documentation, match)


def last_updated_param(field: str = "updated_at") -> SearchParam:
    def match(view: Any, value: str, modifier: str) -> Q:
        prefix, low, high = date_bounds("_lastUpdated", value, "UTC")
        return date_match(field, prefix, low, high)

    return SearchParam(
        "date",
        "When the resource last changed (ge…, lt…); dates are UTC days.",
        match,
    )


_REFERENCE = re.compile(r"(?:^|/)(?:(\w+)/)?([0-9a-fA-F-]{36})$")


def reference_id(name: str, value: str, resource_type: str) -> uuid.UUID:
    """The id in ``Type/<id>`` (or a bare id, or an absolute URL ending so)."""
    found = _REFERENCE.search(value)
    if found is None or (found.group(1) and found.group(1) != resource_type):
        raise _bad(name, f"{name} takes a reference: {resource_type}/<id>.")
    try:
        return uuid.UUID(found.group(2))
    except ValueError:
        raise _bad(name, f"{name} takes a reference: {resource_type}/<id>.") from None


def reference_param(field: str, resource_type: str, documentation: str):
    def match(view: Any, value: str, modifier: str) -> Q:
        name = "patient" if resource_type == "Patient" else field
        return Q(**{field: reference_id(name, value, resource_type)})

    return SearchParam("reference", documentation, match)


def string_param(field: str, documentation: str) -> SearchParam:
    """FHIR string search: starts-with, ignoring case; ``:exact`` and ``:contains``."""
    lookups = {"": "istartswith", "exact": "exact", "contains": "icontains"}

    def match(view: Any, value: str, modifier: str) -> Q:
        return Q(**{f"{field}__{lookups[modifier]}": value})

    return SearchParam(
        "string", documentation, match, modifiers=frozenset({"exact", "contains"})
    )


# -- paging and the Bundle --------------------------------------------------


class FhirCursorPagination(CursorPagination):
    cursor_query_param = CURSOR
    page_size = 50
    page_size_query_param = COUNT
    max_page_size = MAX_COUNT

    def __init__(self, ordering: tuple[str, ...]) -> None:
        self.ordering = ordering

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(COUNT)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise _bad(COUNT, f"_count takes a number from 1 to {MAX_COUNT}.")
        return min(int(raw), MAX_COUNT)  # FHIR lets a server return fewer.

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise _bad(CURSOR, "This paging cursor is not valid.") from None


def search_page(
    view: Any, queryset: QuerySet, ordering: tuple[str, ...]
) -> tuple[list, int, str | None]:
    """``(rows of this page, total matches, next page URL or None)``."""
    paginator = FhirCursorPagination(ordering)
    total = queryset.count()
    rows = paginator.paginate_queryset(queryset, view.request, view=view) or []
    return rows, total, paginator.get_next_link()


def searchset(
    view: Any, resources: list[dict[str, Any]], total: int, next_url: str | None
) -> dict[str, Any]:
    """A searchset Bundle, validated. No id or timestamp: the same search on
    unchanged data answers the same bytes, so ETags and 304 work."""
    links = [{"relation": "self", "url": view.request.build_absolute_uri()}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": view.absolute_url(resource["resourceType"], resource["id"]),
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return fhir_validate(Bundle, bundle)
