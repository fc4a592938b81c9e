"""The KPI dashboard under admin: the page, each figure's rows, CSV exports.

Views parse the filters, call ``insights.kpis`` and respond. The organization
is the staff member's own (a superuser picks one); every queryset comes from
``kpis``, which starts from ``for_organization``.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.admin_scoping import staff_access_audit
from clinic.models import AccessAudit, Organization, Patient
from clinic.scoping import staff_organization_id
from insights import charts, kpis
from insights.definitions import DEFINITIONS, SITE_WIDE_NOTE
from insights.forms import DashboardFilterForm

ROWS_PER_PAGE = 100
# The rows behind a figure name patients: each page, and each CSV chunk of
# this many rows, writes the access audit for its patients in one INSERT.
AUDIT_CHUNK = 2000
AUDITED = "audited_patient"


def _organization(request: HttpRequest) -> Organization | None:
    if request.user.is_superuser:
        return None  # chosen in the form
    organization_id = staff_organization_id(request.user)
    if organization_id is None:
        raise PermissionDenied
    return Organization.objects.get(pk=organization_id)


def _form(request: HttpRequest) -> DashboardFilterForm:
    return DashboardFilterForm(
        request.GET or None, user=request.user, organization=_organization(request)
    )


def _scope(request: HttpRequest) -> tuple[DashboardFilterForm, kpis.Scope | None]:
    form = _form(request)
    if form.is_bound and not form.is_valid():
        return form, None
    if not form.is_bound:
        form.cleaned_data = {}
    return form, form.scope()


# --- Showing values ----------------------------------------------------------------


def duration_text(value: datetime.timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = round(value.total_seconds() / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


def value_text(figure: kpis.Figure) -> str:
    value = figure.value
    if value is None:
        return "—"
    if figure.unit == "duration":
        return duration_text(value)
    if figure.unit == "percent":
        return f"{formats.number_format(value, 1)} %"
    if figure.unit == "nps":
        sign = "+" if value > 0 else ""
        return f"{sign}{formats.number_format(value, 0)}"
    return formats.number_format(value, 2)


def basis_text(figure: kpis.Figure) -> str:
    if figure.denominator == 0:
        return _("no data")  # in words: never "0 of 0" beside a rate
    if figure.numerator is not None and figure.denominator is not None:
        return _("%(numerator)s of %(denominator)s") % {
            "numerator": figure.numerator,
            "denominator": figure.denominator,
        }
    if figure.denominator is not None:
        return _("%(count)s rows") % {"count": figure.denominator}
    return ""


def cell_text(value, zone) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.timedelta):
        return duration_text(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _query(request: HttpRequest) -> str:
    return request.GET.urlencode()


# --- Pages ----------------------------------------------------------------------


def dashboard(request: HttpRequest, admin_context: dict) -> TemplateResponse:
    form, scope = _scope(request)
    context = {**admin_context, "title": _("KPI dashboard"), "form": form}
    if scope is not None:
        board = kpis.dashboard(scope)
        query = _query(request)
        sections = []
        for title, families in kpis.SECTIONS:
            rows = [
                {
                    "figure": f,
                    "value": value_text(f),
                    "basis": basis_text(f),
                    "rows_url": _url("rows", query, f.key),
                    "csv_url": _url("rows_csv", query, f.key),
                }
                for family in families
                for f in board.by_family(family)
            ]
            definitions = [
                _definition(family, scope)
                for family in families
                if board.by_family(family)
            ]
            sections.append({"title": title, "rows": rows, "definitions": definitions})
        context |= {
            "scope": scope,
            "sections": sections,
            "charts": _charts(board),
            "weekly": [
                {
                    "week": week.astimezone(scope.zone).date() if week else None,
                    "count": count,
                    "median": duration_text(median),
                }
                for week, count, median in board.response_times["weekly"]
            ],
            "csv_url": _url("csv", query),
            "site_wide_note": SITE_WIDE_NOTE,
            "period_end": (scope.end - datetime.timedelta(days=1)).date(),
        }
    return TemplateResponse(request, "admin/insights/dashboard.html", context)


def _definition(family: str, scope: kpis.Scope) -> str:
    text = DEFINITIONS[family]
    if family == "attrition":
        return str(text) % {"days": scope.inactive_days}
    return str(text)


def _url(name: str, query: str, key: str = "") -> str:
    args = [key] if key else []
    url = reverse(f"admin:insights_dashboard_{name}", args=args)
    return f"{url}?{query}" if query else url


def _charts(board: kpis.Dashboard) -> list[dict]:
    def bars(family: str) -> list[tuple[str, float | None, str]]:
        return [
            (f.label.split(": ")[-1], f.value, value_text(f))
            for f in board.by_family(family)
        ]

    found = [
        {
            "title": _("Delivery rate per channel"),
            "svg": charts.bar_chart(
                _("Delivery rate per channel"), bars("delivery_rate")
            ),
        },
        {
            "title": _("Read rate per channel"),
            "svg": charts.bar_chart(_("Read rate per channel"), bars("read_rate")),
        },
        {
            "title": _("Appointments with and without reminders"),
            "svg": charts.bar_chart(
                _("Appointments with and without reminders"),
                [
                    (f.label, f.value, value_text(f))
                    for family in ("confirmation_rate", "no_show_rate")
                    for f in board.by_family(family)
                ],
            ),
        },
    ]
    weekly = board.response_times["weekly"]
    if weekly:
        zone = board.scope.zone
        points = [
            (
                week.astimezone(zone).strftime("%d/%m") if week else "?",
                median.total_seconds() / 3600 if median is not None else None,
                duration_text(median),
            )
            for week, _count, median in weekly
        ]
        found.insert(
            0,
            {
                "title": _("Median first-response time per week"),
                "svg": charts.line_chart(
                    _("Median first-response time per week"), points, _("hours")
                ),
            },
        )
    return found


def _figure(request: HttpRequest, key: str) -> tuple[kpis.Scope, kpis.Figure]:
    _form, scope = _scope(request)
    if scope is None:
        raise Http404
    figure = kpis.figure_get(scope, key)
    if figure is None:
        raise Http404
    return scope, figure


def _patient_lookup(figure: kpis.Figure) -> str | None:
    """The lookup to the patient of each row, from the figure's patient
    column (``patient__identifier``, ``message__patient__identifier``, or the
    identifier of a row that is a patient); None for rows of no patient."""
    for lookup, _label in figure.columns:
        if lookup == "identifier" and issubclass(figure.rows.model, Patient):
            return "pk"
        if lookup.endswith("patient__identifier"):
            return lookup.removesuffix("__identifier")
    return None


def _audited_values(figure: kpis.Figure, lookups: list[str]):
    """The rows' values, with the patient's id under ``AUDITED`` when the
    rows name patients; and whether they do."""
    patient = _patient_lookup(figure)
    if patient is None:
        return figure.rows.values(*lookups), False
    return figure.rows.values(*lookups, **{AUDITED: F(patient)}), True


def _audit_rows(request: HttpRequest, figure: kpis.Figure, rows, detail: str) -> None:
    staff_access_audit(
        request,
        [row[AUDITED] for row in rows],
        action=AccessAudit.Action.VIEW_RECORD,
        detail=f"insights: {figure.key}{detail}",
    )


def rows(request: HttpRequest, key: str, admin_context: dict) -> TemplateResponse:
    scope, figure = _figure(request, key)
    lookups = [lookup for lookup, _label in figure.columns]
    values, audited = _audited_values(figure, lookups)
    page = Paginator(values, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    if audited:
        _audit_rows(request, figure, page.object_list, "")
    query = request.GET.copy()
    query.pop("page", None)
    # Times in the page's zone, the one its header names (clinic/time_zones.py):
    # the organization's for its staff, the chosen one for a superuser.
    zone = timezone.get_current_timezone()
    table = [
        {
            "cells": [cell_text(row[lookup], zone) for lookup in lookups],
            "counted": figure.counted(row) if figure.counted else None,
        }
        for row in page.object_list
    ]
    context = {
        **admin_context,
        "title": figure.label,
        "figure": figure,
        "value": value_text(figure),
        "basis": basis_text(figure),
        "definition": _definition(figure.family, scope),
        "headers": [label for _lookup, label in figure.columns],
        "table": table,
        "page": page,
        "query": query.urlencode(),
        "dashboard_url": _url("changelist", query.urlencode()),
        "csv_url": _url("rows_csv", query.urlencode(), figure.key),
        "scope": scope,
    }
    return TemplateResponse(request, "admin/insights/rows.html", context)


# --- CSV ---------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(cell: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: quote it."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _csv_response(filename: str, lines: Iterator[list[str]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([_safe(str(c)) for c in line]) for line in lines),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def figures_csv(request: HttpRequest) -> StreamingHttpResponse:
    _form, scope = _scope(request)
    if scope is None:
        raise Http404
    board = kpis.dashboard(scope)

    def lines() -> Iterator[list[str]]:
        yield [
            "organization",
            "site",
            "start",
            "end",
            "key",
            "figure",
            "value",
            "unit",
            "numerator",
            "denominator",
            "all_sites",
            "definition",
        ]
        for f in board.figures:
            value = f.value
            if isinstance(value, datetime.timedelta):
                value = round(value.total_seconds())
                unit = "seconds"
            else:
                value = "" if value is None else round(value, 2)
                unit = f.unit
            yield [
                scope.organization.slug,
                scope.site.name if scope.site else "",
                scope.start.isoformat(),
                scope.end.isoformat(),
                f.key,
                f.label,
                value,
                unit,
                "" if f.numerator is None else f.numerator,
                "" if f.denominator is None else f.denominator,
                "no" if f.site_scoped else "yes",
                _definition(f.family, scope),
            ]

    return _csv_response(f"kpis-{scope.organization.slug}.csv", lines())


def rows_csv(request: HttpRequest, key: str) -> StreamingHttpResponse:
    scope, figure = _figure(request, key)
    lookups = [lookup for lookup, _label in figure.columns]

    values, audited = _audited_values(figure, lookups)
    # Read now: the lines are written after the middleware has deactivated it.
    zone = timezone.get_current_timezone()

    def lines() -> Iterator[list[str]]:
        header = [str(label) for _lookup, label in figure.columns]
        yield header + ([str(gettext_lazy("counted"))] if figure.counted else [])
        chunk = []
        for row in values.iterator(chunk_size=AUDIT_CHUNK):
            cells = [cell_text(row[lookup], zone) for lookup in lookups]
            if figure.counted:
                cells.append(_("yes") if figure.counted(row) else _("no"))
            if audited:
                chunk.append(row)
                if len(chunk) == AUDIT_CHUNK:
                    _audit_rows(request, figure, chunk, " csv")
                    chunk = []
            yield cells
        if chunk:
            _audit_rows(request, figure, chunk, " csv")

    return _csv_response(f"{figure.key}-{scope.organization.slug}.csv", lines())
