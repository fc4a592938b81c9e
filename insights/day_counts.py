"""Per-day counts of outbound messages (per topic) and of deliveries (per
channel and status), so the dashboard reads a 90-day period's ~3,000 count
rows instead of counting half a million messages and as many deliveries.

PostgreSQL keeps them: statement-level triggers on ``messaging_message`` and
``messaging_delivery`` (insights migration 0003) add, for every INSERT, COPY,
UPDATE or DELETE, one signed row per (organization, UTC day, group) the
statement changed. Every writer is covered — the ORM, bulk writes, the
campaign planner's COPY, raw SQL — inside the writer's own transaction, so a
count is never ahead of or behind its rows. A change is a new row, never an
UPDATE of a shared counter: two campaign planners writing the same day and
topic do not wait on each other. ``compact`` (every minute) folds each
group's rows into one.

The counts are by whole UTC day; a period rarely starts at UTC midnight (the
dashboard's periods start at midnight in the organization's zone), so the
part of the period outside whole UTC days — at most a day at each end — is
counted from the rows themselves (``split``).

On SQLite (the embedded default) there are no triggers: ``kept()`` is False
and the dashboard counts everything from the rows, which at that size is fast.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction

# Groups folded per table and run: one run's transaction stays short even
# after a burst of writes; the next run takes the rest.
COMPACT_GROUPS = 5_000


def kept() -> bool:
    """Whether the database keeps the counts (the triggers exist there)."""
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Split:
    """``[start, end)`` as whole UTC days ``[first_day, stop_day)`` plus the
    ranges outside them, which are counted from the rows."""

    first_day: datetime.date | None
    stop_day: datetime.date | None
    edges: tuple[tuple[datetime.datetime, datetime.datetime], ...]


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def split(start: datetime.datetime, end: datetime.datetime) -> Split:
    first = start.astimezone(datetime.UTC)
    last = end.astimezone(datetime.UTC)
    first_day = (
        first.date()
        if first == _midnight(first.date())
        else first.date() + (datetime.timedelta(days=1))
    )
    stop_day = last.date()
    if first_day >= stop_day:  # no whole day inside: all from the rows
        return Split(None, None, ((start, end),) if start < end else ())
    edges = []
    if start < _midnight(first_day):
        edges.append((start, _midnight(first_day)))
    if _midnight(stop_day) < end:
        edges.append((_midnight(stop_day), end))
    return Split(first_day, stop_day, tuple(edges))


def message_totals(organization_id: int, first_day, stop_day) -> dict[int, tuple]:
    """topic → (outbound messages created on those days, of them read)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT topic_id, SUM(sent), SUM(read) FROM insights_messagedaycount
            WHERE organization_id = %s AND day >= %s AND day < %s
            GROUP BY topic_id""",
            [organization_id, first_day, stop_day],
        )
        return {topic: (int(sent), int(read)) for topic, sent, read in cursor}


def delivery_totals(organization_id: int, first_day, stop_day) -> dict[tuple, tuple]:
    """(channel, status) → (deliveries of the messages created on those days,)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT channel, status, SUM(deliveries) FROM insights_deliverydaycount
            WHERE organization_id = %s AND day >= %s AND day < %s
            GROUP BY channel, status""",
            [organization_id, first_day, stop_day],
        )
        return {(channel, status): (int(n),) for channel, status, n in cursor}


# Each statement folds at most COMPACT_GROUPS groups with rows written since
# the last fold (the partial "fresh" index finds them). Rows committed while
# it runs are not in its snapshot: they stay, unfolded, for the next run. Two
# runs at once (two clusters) are safe: a row the other run deleted first is
# skipped by this run's DELETE, and each deleted row is re-added, summed, by
# the run that deleted it.
_COMPACT_MESSAGES = """
WITH fresh AS (
    SELECT DISTINCT organization_id, day, topic_id FROM insights_messagedaycount
    WHERE NOT compacted LIMIT %(limit)s
), gone AS (
    DELETE FROM insights_messagedaycount c USING fresh f
    WHERE c.organization_id = f.organization_id AND c.day = f.day
      AND c.topic_id = f.topic_id
    RETURNING c.organization_id, c.day, c.topic_id, c.sent, c.read
)
INSERT INTO insights_messagedaycount
    (organization_id, day, topic_id, compacted, sent, read)
SELECT organization_id, day, topic_id, true, SUM(sent), SUM(read) FROM gone
GROUP BY organization_id, day, topic_id
HAVING SUM(sent) <> 0 OR SUM(read) <> 0
"""
_COMPACT_DELIVERIES = """
WITH fresh AS (
    SELECT DISTINCT organization_id, day, channel, status
    FROM insights_deliverydaycount WHERE NOT compacted LIMIT %(limit)s
), gone AS (
    DELETE FROM insights_deliverydaycount c USING fresh f
    WHERE c.organization_id = f.organization_id AND c.day = f.day
      AND c.channel = f.channel AND c.status = f.status
    RETURNING c.organization_id, c.day, c.channel, c.status, c.deliveries
)
INSERT INTO insights_deliverydaycount
    (organization_id, day, channel, status, compacted, deliveries)
SELECT organization_id, day, channel, status, true, SUM(deliveries) FROM gone
GROUP BY organization_id, day, channel, status
HAVING SUM(deliveries) <> 0
"""


def compact(limit: int = COMPACT_GROUPS) -> int:
    """Fold the changed groups' rows into one row each; returns the rows
    written. Sums are unchanged, so readers see the same figures before,
    during and after."""
    if not kept():
        return 0
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in (_COMPACT_MESSAGES, _COMPACT_DELIVERIES):
            cursor.execute(statement, {"limit": limit})
            written += cursor.rowcount
    return written


def rebuild() -> None:
    """Count everything again from the messages and deliveries (after a
    restore made with triggers disabled, say). Writers wait for it; readers
    do not."""
    if not kept():
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT insights_day_counts_rebuild()")


_DIFFERENCES = """
WITH kept AS (
    SELECT organization_id, day, topic_id, SUM(sent) AS sent, SUM(read) AS read
    FROM insights_messagedaycount GROUP BY 1, 2, 3
), actual AS (
    SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date AS day, topic_id,
           COUNT(*) AS sent, COUNT(read_at) AS read
    FROM messaging_message WHERE direction = 'out' GROUP BY 1, 2, 3
)
SELECT 'messages', organization_id, day, 'topic ' || topic_id,
       COALESCE(kept.sent, 0), COALESCE(actual.sent, 0),
       COALESCE(kept.read, 0), COALESCE(actual.read, 0)
FROM kept FULL JOIN actual USING (organization_id, day, topic_id)
WHERE COALESCE(kept.sent, 0) <> COALESCE(actual.sent, 0)
   OR COALESCE(kept.read, 0) <> COALESCE(actual.read, 0)
UNION ALL
SELECT 'deliveries', organization_id, day, channel || ' ' || status,
       COALESCE(kept.n, 0), COALESCE(actual.n, 0), 0, 0
FROM (
    SELECT organization_id, day, channel, status, SUM(deliveries) AS n
    FROM insights_deliverydaycount GROUP BY 1, 2, 3, 4
) AS kept FULL JOIN (
    SELECT organization_id, (message_created_at AT TIME ZONE 'UTC')::date AS day,
           channel, status, COUNT(*) AS n
    FROM messaging_delivery GROUP BY 1, 2, 3, 4
) AS actual USING (organization_id, day, channel, status)
WHERE COALESCE(kept.n, 0) <> COALESCE(actual.n, 0)
ORDER BY 1, 2, 3, 4
"""


def differences() -> list[str]:
    """Each group whose kept count differs from the rows, as a line (none
    when the triggers have done their job)."""
    if not kept():
        return []
    with connection.cursor() as cursor:
        cursor.execute(_DIFFERENCES)
        rows = cursor.fetchall()
    lines = []
    for table, organization, day, group, kept_n, actual_n, kept_read, read in rows:
        line = f"{table} organization {organization} {day} {group}: "
        line += f"kept {kept_n}, counted {actual_n}"
        if table == "messages" and kept_read != read:
            line += f"; read kept {kept_read}, counted {read}"
        lines.append(line)
    return lines
