"""Part of the dashboard computed on a second database connection.

The dashboard's figures are independent reads, and PostgreSQL runs each query
on one core: the patient-centred families (engagement and attrition: about
two thirds of the page's database time in bench/insights.py once messages and
deliveries are counted per day) run in a second thread while the request's own connection computes the rest, so the
page waits for the longer half instead of the sum (docs/insights.md).

Only where it can be right: on PostgreSQL, and never inside a transaction (a
second connection would not see the caller's uncommitted rows; tests run in
one, so they compute in place unless they commit). The two halves read from
two snapshots a few milliseconds apart: a dashboard can live with that.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django.utils import timezone, translation

T = TypeVar("T")
THREAD_NAME = "insights-alongside"


def second_connection_usable() -> bool:
    return (
        settings.INSIGHTS_SECOND_CONNECTION
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )


def on_second_connection(compute: Callable[[], T]) -> Callable[[], T]:
    """Start ``compute`` now; return a function that waits for its result
    (raising its error, if it failed: a Future's ``result``).

    In another thread on its own connection, closed when it is done, with the
    caller's language and time zone; in place when ``second_connection_usable`` says
    no."""
    if not second_connection_usable():
        result = compute()
        return lambda: result
    language = translation.get_language()
    zone = timezone.get_current_timezone()

    def run() -> T:
        try:
            with translation.override(language), timezone.override(zone):
                return compute()
        finally:
            connection.close()  # this thread's own connection

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
    future = executor.submit(run)
    executor.shutdown(wait=False)  # the thread ends with ``run``
    return future.result
