"""How long to wait before trying again: doubling from a first wait up to a
ceiling, with or without jitter.

Webhooks out retry on a fixed ladder (``api.webhooks.sending``: 1, 2, 4 …
minutes, then hourly); provider sends retry with full jitter, so the deliveries
of one failed batch do not all come back at once (``messaging.services.outcomes``).
"""

from __future__ import annotations

import datetime
import random


def doubling(
    attempts: int, *, first: datetime.timedelta, ceiling: datetime.timedelta
) -> datetime.timedelta:
    """The wait after the ``attempts``-th failure: ``first``, then twice as
    long each time, never more than ``ceiling``."""
    return min(ceiling, first * 2 ** max(0, attempts - 1))


def jittered(
    attempts: int, *, first: float, ceiling: float, at_least: float | None = None
) -> datetime.timedelta:
    """``doubling`` in seconds with full jitter (between half of it and all of
    it), and at least ``at_least`` seconds (what a provider asked)."""
    top = min(ceiling, first * 2 ** max(0, attempts - 1))
    seconds = random.uniform(top / 2, top)  # noqa: S311 - jitter, not security
    return datetime.timedelta(seconds=max(seconds, at_least or 0))
