"""The dashboard's figures: each one with the rows behind it.

Every function takes a ``Scope`` (organization, optional site, period
``[start, end)``) and returns ``Figure``s: the value, the counts it was
computed from, and a lazy queryset of the rows behind it, so the page, the
drill-down list and the CSV exports all read the same rows. The querysets start
from ``for_organization``: nothing of another organization can enter.

A rate is a ``Rate``: its numerator counts rows drawn from its denominator's
rows, so it is between 0 and 100 % by construction, and a query that counted
its numerator over another population fails loudly instead of showing "250 %".
A figure without data has ``value = None`` and shows "—" (never a division by
zero). The definitions, one sentence each, are in ``insights.definitions`` and
shown on the page; ``docs/insights.md`` explains the choices behind them.

The figures come in families, one module each: ``response_time``,
``surveys``, ``deliveries``, ``opt_outs``, ``appointments`` and ``engagement``;
``base`` holds what they share and ``board`` puts them together. This module
is the package's interface for the pages: the scope, the figures and the
dashboard.
"""

from insights.kpis.base import Figure, Rate, Scope, attrition_days_default
from insights.kpis.board import SECTIONS, Dashboard, dashboard, figure_get

__all__ = [
    "SECTIONS",
    "Dashboard",
    "Figure",
    "Rate",
    "Scope",
    "attrition_days_default",
    "dashboard",
    "figure_get",
]
