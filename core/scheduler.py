"""The scheduler's finders: what finds due work (reminders, offers, recurring
reminders, campaigns, surveys, webhook retries…), each in its own schedule.

Each kind of due work registers a finder here from its AppConfig.ready() with
``register_due``; each finder is then its own django-q2 schedule,
``due: <name>``, every minute (``core.schedules``, kept after every migrate and
flush), running ``core.tasks.finder_run(name)``. A long campaign tick therefore
never delays webhook retries behind it: the two run as separate tasks, on
whichever workers are free.

A finder must plan each due item once even when several worker clusters on
several hosts run it at the same time: claim rows with
``select_for_update(skip_locked=True)`` (or take the finder's own lock) and mark
them planned in the same transaction.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

from django.apps import AppConfig
from django.utils import timezone

from core.schedules import every_minute, schedules_keep

logger = logging.getLogger(__name__)

Finder = Callable[[datetime.datetime], int]  # now → items planned
_finders: dict[str, Finder] = {}


def finder_job(name: str) -> str:
    """The django-q2 schedule's name for the finder ``name``."""
    return f"due: {name}"


def finder_schedule(name: str) -> dict:
    """The Schedule fields of the finder ``name``: every minute, alone."""
    return {**every_minute("core.tasks.finder_run"), "args": repr((name,))}


def register_due(app_config: AppConfig, name: str, finder: Finder) -> Finder:
    """Run ``finder(now)`` every minute in its own schedule, which
    ``app_config`` puts back after every migrate and flush; returns it."""
    _finders[name] = finder
    schedules_keep(app_config, {finder_job(name): finder_schedule(name)})
    return finder


def finder_run(name: str, now: datetime.datetime | None = None) -> int:
    """Plan what the finder ``name`` finds due at ``now``; returns the items
    planned, or -1 when it failed (logged; it runs again on its next tick)."""
    finder = _finders.get(name)
    if finder is None:  # a schedule left by a finder this code no longer has
        logger.warning("no due finder named %s", name)
        return -1
    try:
        return finder(now or timezone.now())
    except Exception:
        logger.exception("due finder %s failed", name)
        return -1


def due_run(now: datetime.datetime | None = None) -> dict[str, int]:
    """Run every finder once, in turn, at ``now``; returns items planned per
    finder. One finder failing does not stop the others. The schedules never
    call it (each finder has its own); the demo's history and tests do."""
    now = now or timezone.now()
    return {name: finder_run(name, now) for name in list(_finders)}
