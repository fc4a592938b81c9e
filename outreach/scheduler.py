"""The one periodic job that finds what is due (reminders, offers, recurring
reminders, campaigns).

Each kind of due work registers a finder here from its AppConfig.ready();
``due_run`` calls them in turn. A finder must plan each due item once even
when several worker clusters on several hosts run the job at the same time:
claim rows with ``select_for_update(skip_locked=True)`` and mark them planned
in the same transaction.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

from django.utils import timezone

logger = logging.getLogger(__name__)

Finder = Callable[[datetime.datetime], int]  # now → items planned
_finders: dict[str, Finder] = {}


def register_due(name: str, finder: Finder) -> Finder:
    """Run ``finder(now)`` on every tick of the scheduler; returns it."""
    _finders[name] = finder
    return finder


def due_run(now: datetime.datetime | None = None) -> dict[str, int]:
    """Plan everything due at ``now``; returns items planned per finder. One
    finder failing does not stop the others (it is logged and retried on the
    next tick)."""
    now = now or timezone.now()
    planned = {}
    for name, finder in _finders.items():
        try:
            planned[name] = finder(now)
        except Exception:
            logger.exception("due finder %s failed", name)
            planned[name] = -1
    return planned
