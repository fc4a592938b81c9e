"""The whole dashboard: its sections, every family computed in one
transaction (the patient-centred ones on a second connection), and one
figure recomputed for its drill-down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from insights.kpis.appointments import appointment_rates
from insights.kpis.base import Figure, Scope
from insights.kpis.deliveries import (
    delivery_and_read_rates,
    messages_by_topic,
    messages_read,
)
from insights.kpis.engagement import active_users, attrition
from insights.kpis.opt_outs import opt_outs
from insights.kpis.response_time import (
    first_contact_resolution,
    response_time_figures,
    response_time_stats,
)
from insights.kpis.surveys import survey_response_rate, survey_scores
from insights.second_connection import on_second_connection

SECTIONS = [
    (_("Conversations"), ("frt", "fcr")),
    (_("Satisfaction"), ("csat", "nps", "survey_response_rate")),
    (_("Messages"), ("delivery_rate", "read_rate", "messages_read", "opt_out")),
    (_("Appointments"), ("confirmation_rate", "no_show_rate")),
    (_("Engagement"), ("active_users", "attrition")),
]


@dataclass
class Dashboard:
    scope: Scope
    figures: list[Figure]
    response_times: dict

    def by_family(self, family: str) -> list[Figure]:
        return [f for f in self.figures if f.family == family]

    def get(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


@contextmanager
def _no_jit() -> Iterator[None]:
    """The dashboard's queries in one transaction with JIT compilation off.

    PostgreSQL compiles the big aggregates (half a million rows and more) with
    LLVM, which added about 50 ms to the delivery query of bench/insights.py:
    ``SET LOCAL`` turns it off for these queries only (it ends with the
    transaction). The queries only read, so the transaction changes nothing else.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def _patient_centred(scope: Scope) -> list[Figure]:
    with _no_jit():
        return [*active_users(scope), *attrition(scope)]


def dashboard(scope: Scope) -> Dashboard:
    # Started first: on a second connection while this one does the rest.
    patient_centred = on_second_connection(lambda: _patient_centred(scope))
    with _no_jit():
        stats = response_time_stats(scope)
        by_topic = messages_by_topic(scope)
        figures = [
            *response_time_figures(scope, stats),
            *first_contact_resolution(scope),
            *survey_scores(scope),
            *survey_response_rate(scope),
            *delivery_and_read_rates(scope),
            *messages_read(scope, by_topic),
            *opt_outs(scope),
            *appointment_rates(scope),
        ]
    figures += patient_centred()
    return Dashboard(scope=scope, figures=figures, response_times=stats)


# The families a drill-down recomputes, so one figure's rows cost one family.
FAMILY_FUNCTIONS: dict[str, Callable[[Scope], list[Figure]]] = {
    "frt": response_time_figures,
    "fcr": first_contact_resolution,
    "csat": survey_scores,
    "nps": survey_scores,
    "survey_response_rate": survey_response_rate,
    "delivery_rate": delivery_and_read_rates,
    "read_rate": delivery_and_read_rates,
    "messages_read": lambda scope: messages_read(scope, messages_by_topic(scope)),
    "opt_out": opt_outs,
    "confirmation_rate": appointment_rates,
    "no_show_rate": appointment_rates,
    "active_users": active_users,
    "attrition": attrition,
}


def figure_get(scope: Scope, key: str) -> Figure | None:
    family = key.split(".")[0]
    family = {"frt_median": "frt", "frt_p90": "frt"}.get(family, family)
    family = {"csat_share": "csat", "csat_mean": "csat"}.get(family, family)
    function = FAMILY_FUNCTIONS.get(family)
    if function is None:
        return None
    with _no_jit():
        return next((f for f in function(scope) if f.key == key), None)
