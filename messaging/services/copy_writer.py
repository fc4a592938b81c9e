"""The PostgreSQL writer of the bulk form: Message and Delivery rows by ``COPY``.

``bulk_create`` builds a model instance per row and an ``INSERT`` with a
parameter per field (≈ 16,000 rows/s here); ``COPY … FROM STDIN`` streams
the rows (≈ 156,000 rows/s). Deliveries need their Message's id, so the ids
of both tables are reserved first from the tables' own sequences, in one
query each (``nextval`` over ``generate_series``): the rows then carry their
ids, the Delivery foreign keys are known before anything is sent, and the
queued deliveries' ids go to the task queue without reading anything back.
Reserved ids are never handed out twice, so concurrent writers cannot
collide; a rolled-back page only leaves a gap. Every column ``bulk_create``
would write is written (defaults included); the nullable ones left out stay
NULL, as they would. The caller's transaction holds both COPYs, so a page is
written whole or not at all (the outbox rule), and its constraints (unique
idempotency keys and authenticity codes, foreign keys) are checked as for an
``INSERT``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.copy import QueuedLibpqWriter
from psycopg.pq import Format

from django.db import connection
from django.utils import timezone

from messaging.models import Delivery, Message

MESSAGE_COLUMNS = (
    "id",
    "public_id",
    "organization_id",
    "patient_id",
    "topic_id",
    "origin",
    "origin_ref",
    "direction",
    "idempotency_key",
    "sensitivity",
    "language",
    "subject",
    "body",
    "context",
    "why",
    "free_text",
    "content_hash",
    "authenticity_code",
    "created_at",
)
DELIVERY_COLUMNS = (
    "id",
    "message_id",
    "channel",
    "address",
    "to_address_being_verified",
    "status",
    "reason",
    "subject",
    "body",
    "body_html",
    "provider",
    "provider_id",
    "error_code",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "organization_id",
    "message_created_at",
)
QUEUED = str(Delivery.Status.QUEUED)

_sequences: dict[str, str] = {}


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` ids from ``table``'s own id sequence, in one query."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        sequence = _sequences.get(table)
        if sequence is None:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = _sequences[table] = cursor.fetchone()[0]
        # One text value rather than ``count`` rows: parsing is then one split.
        cursor.execute(
            "SELECT string_agg(nextval(%s::regclass)::text, ',') "
            "FROM generate_series(1, %s)",
            [sequence, count],
        )
        return [int(value) for value in cursor.fetchone()[0].split(",")]


_types: dict[str, list[str]] = {}


def column_types(table: str, columns: Sequence[str]) -> list[str]:
    """The columns' PostgreSQL types, read once: binary COPY needs them."""
    key = f"{table}:{','.join(columns)}"
    types = _types.get(key)
    if types is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            found = dict(cursor.fetchall())
        types = _types[key] = [found[column] for column in columns]
    return types


class _JsonText(str):
    """A JSON document already serialised: written as it is."""

    __slots__ = ()


class _JsonbDumper(Dumper):
    """jsonb in binary COPY: ``_JsonText`` goes out as it is (a page's
    constant context is serialised once, a ``why`` with a format string);
    anything else through ``json.dumps`` as psycopg's own dumper does."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj) -> bytes:
        text = obj if isinstance(obj, _JsonText) else json.dumps(obj)
        return b"\x01" + text.encode()


def copy_rows(table: str, columns: Sequence[str], rows) -> None:
    """``COPY`` in PostgreSQL's binary format: the server parses no text.

    The rows are handed to a writer thread (``QueuedLibpqWriter``), so the
    server takes in one part while Python builds the next: on two cores the
    two overlap instead of waiting for each other."""
    types = column_types(table, columns)
    # psycopg's own cursor: its errors become Django's (an IntegrityError
    # for a unique clash), as through Django's cursor.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor
        raw.adapters.register_dumper(None, _JsonbDumper)
        with raw.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)",
            writer=QueuedLibpqWriter(raw),
        ) as copy:
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)


def copy_messages(job, planned: list) -> tuple[dict[int, int], list[int]]:
    """Write the planned messages and their deliveries (inside the caller's
    transaction); returns patient id → message id and the queued deliveries'
    ids."""
    message_ids = reserve_ids(Message._meta.db_table, len(planned))
    delivery_ids = iter(
        reserve_ids(Delivery._meta.db_table, sum(len(p.deliveries) for p in planned))
    )
    organization_id = job.topic.organization_id
    topic_id = job.topic.pk
    # str(): Django's choices are Enums, which psycopg would dump by name.
    origin, origin_ref = str(job.origin), job.origin_ref
    context = _JsonText(json.dumps(job.caller_context or {}))
    free_text = bool(job.text)
    at = job.at
    now = timezone.now()
    direction = str(Message.Direction.OUTBOUND)
    plain = _Plain()
    why_json = _WhyJson()
    messages = []
    deliveries = []
    queued = []
    by_patient = {}
    for plan, message_id in zip(planned, message_ids, strict=True):
        by_patient[plan.patient_id] = message_id
        messages.append(
            (
                message_id,
                plan.public_id,
                organization_id,
                plan.patient_id,
                topic_id,
                origin,
                origin_ref,
                direction,
                plan.idempotency_key,
                plan.sensitivity,
                plan.language,
                plan.subject,
                plan.body,
                context,
                why_json(plan.why),
                free_text,
                plan.content_hash,
                plan.authenticity_code,
                at,
            )
        )
        for d in plan.deliveries:
            delivery_id = next(delivery_ids)
            status = plain[d.status]
            if status == QUEUED:
                queued.append(delivery_id)
            deliveries.append(
                (
                    delivery_id,
                    message_id,
                    plain[d.channel],
                    d.address,
                    d.to_address_being_verified,
                    status,
                    plain[d.reason or ""],
                    d.subject,
                    d.body,
                    d.body_html,
                    "",
                    "",
                    "",
                    0,
                    d.next_attempt_at,
                    now,
                    now,
                    organization_id,
                    at,
                )
            )
    copy_rows(Message._meta.db_table, MESSAGE_COLUMNS, messages)
    copy_rows(Delivery._meta.db_table, DELIVERY_COLUMNS, deliveries)
    return by_patient, queued


class _Plain(dict):
    """choice value → the plain ``str`` (an Enum member's ``str()`` costs a
    call each time; a page asks the same few values 20,000 times)."""

    def __missing__(self, value) -> str:
        text = self[value] = str(value)
        return text


class _WhyJson:
    """``Why`` → its JSON (``Why.as_dict``), by a format string: the purpose
    and basis repeat across the page, only the event id changes."""

    def __init__(self):
        self.prefixes: dict[tuple, str] = {}

    def __call__(self, why) -> _JsonText:
        if why is None:
            return _JsonText("{}")
        key = (why.purpose, why.lawful_basis)
        prefix = self.prefixes.get(key)
        if prefix is None:
            head = json.dumps(
                {"purpose": why.purpose, "lawful_basis": why.lawful_basis}
            )
            prefix = self.prefixes[key] = head[:-1] + ', "consent_event_id": '
        event = why.consent_event_id
        return _JsonText(f"{prefix}{'null' if event is None else int(event)}}}")
