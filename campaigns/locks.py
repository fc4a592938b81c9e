"""The lock that orders a campaign's pages against pause, cancel and the end.

Pages of an unthrottled campaign are planned by several workers at once, each
holding this lock *shared* for its page's transaction; a workflow step
(pause, resume, cancel, …) and the "done" mark take it *exclusive*. It is a
PostgreSQL advisory transaction lock rather than the campaign row's
``FOR SHARE`` because the lock manager queues fairly: once a pause waits, no
new page starts ahead of it, whereas row share locks taken one after another
by two workers could keep a pause waiting for the whole tick.
"""

from __future__ import annotations

from django.db import connection

# The first key of the two-integer advisory lock: "camp".
NAMESPACE = 0x63616D70


def _enabled() -> bool:
    return connection.vendor == "postgresql"


def exclusive(campaign_id: int) -> None:
    """Wait for the pages in progress; no new page starts until commit."""
    if _enabled():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, campaign_id]
            )


def try_exclusive(campaign_id: int) -> bool:
    """``exclusive`` if no page is in progress, else False at once."""
    if not _enabled():
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [NAMESPACE, campaign_id]
        )
        return cursor.fetchone()[0]


def shared(campaign_id: int) -> None:
    """A page's lock: waits while a workflow step holds or awaits it."""
    if _enabled():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)",
                [NAMESPACE, campaign_id],
            )
