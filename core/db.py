"""Database helpers every app may use, whatever the backend.

Mechanisms bound to one kind of row stay with it: delivery claims with
``SKIP LOCKED``, leases and fencing (``messaging.services.claims``), the
campaign's advisory lock (``campaigns.locks``), the ``COPY`` writer of a large
campaign (``messaging.services.copy_writer``).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL


def filter_ids(queryset: QuerySet, ids: list[int], column: str = "") -> QuerySet:
    """``queryset.filter(<column>__in=ids)`` (the primary key by default); on
    PostgreSQL with one array parameter (``= ANY(%s)``): Django compiles an
    IN list of 10,000 ids into 10,000 parameters, a quarter of a second per
    query here."""
    meta = queryset.model._meta
    column = column or meta.pk.column
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{column}__in": ids})
    if not ids:
        return queryset.none()
    sql = f'"{meta.db_table}"."{column}" = ANY(%s::bigint[])'
    # The array as its literal: psycopg's list dumper tests every item
    # against a regular expression (a tenth of a second per 100,000 ids).
    literal = "{" + ",".join(str(int(pk)) for pk in ids) + "}"
    # The range lets PostgreSQL walk an index on the column rather than test
    # every row of a large table against the array.
    return queryset.filter(
        RawSQL(sql, (literal,), BooleanField()),  # noqa: S611 - our own column
        **{f"{column}__gte": min(ids), f"{column}__lte": max(ids)},
    )
