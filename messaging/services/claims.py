"""What one delivery task holds, fenced.

A claim sets a delivery ``sending`` with a lease and ``attempts + 1``: that
attempt number is the claim's **fencing token**. A worker that stalled past
its lease (CPU starvation, a stopped process, a long pause) may find the row
claimed again by another worker with the next token; everything it would
still do must then count for nothing:

- every write to a claimed row is conditioned on its id, its token and the
  status ``sending`` (``fenced_update``; ``outcomes.delivery_finish``), so a
  stale holder records nothing;
- before each provider call the backend asks the gate (``Claims.admits``),
  which admits a delivery only within ``CONFIRMATION_SECONDS`` of the last
  time its token was confirmed in the database (``Claims.confirm``, one
  statement per group of sends). The window is measured on
  ``time.monotonic()``, which keeps counting while the process is stopped,
  so a worker resumed after a pause knows its confirmation is stale and
  confirms again before calling;
- a heartbeat thread renews the leases of everything still held while calls
  are in flight (``Heartbeat``), so a long call does not lose its claim.

What remains: the moment between the gate's answer and the request leaving
the socket, and what a stale holder had already sent when it lost the row.
The next holder reconciles such a delivery with the provider before any
resend (``delivering._reconcile``). docs/messaging.md, "Fencing".
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from messaging.backends.base import SendGate
from messaging.models import Delivery

logger = logging.getLogger(__name__)
Status = Delivery.Status
T = TypeVar("T")

# A confirmation lets calls start for this long, and never more than half a
# lease: the lease it renewed outlives it whatever the clocks' small skew.
CONFIRMATION_SECONDS = 5.0
# Kept free at the end of a task to record the last outcomes and release
# what was not sent, before django-q2 stops the task (Q_CLUSTER["timeout"]).
TASK_MARGIN = 2.0
# How long a task waits for the database to come back (a restart) before it
# gives up and leaves its rows to their leases.
DB_RETRY_SECONDS = 30.0
# Rows per statement: well under SQLite's limit on parameters.
_CHUNK = 500


def fenced_update(
    deliveries: Sequence[Delivery],
    fields: Mapping[str, Any],
    *,
    per_row: Sequence[str] = (),
    values: Callable[[Delivery], Sequence[Any]] = lambda delivery: (),
) -> set[int]:
    """Update those of ``deliveries`` this worker still holds (same id, same
    attempt number as ``delivery.attempts``, still ``sending``); return their ids.

    ``fields`` are the same for every row; the columns named in ``per_row``
    take ``values(delivery)``, row by row. One statement per 500 rows
    (``UPDATE … FROM (VALUES …) … RETURNING id``, PostgreSQL and SQLite).
    """
    kept: set[int] = set()
    for start in range(0, len(deliveries), _CHUNK):
        kept |= _fenced_chunk(
            deliveries[start : start + _CHUNK], fields, per_row, values
        )
    return kept


def _fenced_chunk(
    deliveries: Sequence[Delivery],
    fields: Mapping[str, Any],
    per_row: Sequence[str],
    values: Callable[[Delivery], Sequence[Any]],
) -> set[int]:
    if not deliveries:
        return set()
    opts = Delivery._meta
    qn = connection.ops.quote_name
    table = qn(opts.db_table)

    def prep(column: str, value: Any) -> Any:
        return opts.get_field(column).get_db_prep_save(value, connection)

    assignments = [f"{qn(column)} = %s" for column in fields] + [
        f"{qn(column)} = v.column{3 + n}" for n, column in enumerate(per_row)
    ]
    row = "(" + ", ".join(["%s"] * (2 + len(per_row))) + ")"
    params: list[Any] = [prep(column, value) for column, value in fields.items()]
    for delivery in deliveries:
        params += [delivery.pk, delivery.attempts]
        params += [
            prep(column, value)
            for column, value in zip(per_row, values(delivery), strict=True)
        ]
    params.append(Status.SENDING)
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 - our own names
        f"FROM (VALUES {', '.join([row] * len(deliveries))}) AS v "
        f"WHERE {table}.id = v.column1 AND {table}.attempts = v.column2 "
        f"AND {table}.status = %s RETURNING {table}.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def lease_seconds() -> float:
    return float(settings.MESSAGING_LEASE_SECONDS)


class Claims(SendGate):
    """The deliveries one task claimed, and which of them may be sent now.

    The main thread confirms and records; the heartbeat thread renews; the
    backend's sending threads only ask ``admits``. A delivery is held while
    its in-memory status is ``sending`` (recording it sets another) and no
    statement found it taken.
    """

    def __init__(self, claimed: list[Delivery], *, uncertain: set[int]) -> None:
        self.deliveries = claimed
        # Claimed with an unknown outcome (an earlier attempt may have sent
        # it): never released as queued, only as unknown.
        self.uncertain = uncertain
        # Let through the gate at least once: the provider may have it.
        self.admitted: set[int] = set()
        self._lock = threading.Lock()
        self._callable_until: dict[int, float] = {}
        self._lost: set[int] = set()
        self._recording: set[int] = set()

    def held(self) -> list[Delivery]:
        """Deliveries still this task's, neither settled nor found taken."""
        with self._lock:
            return [
                d
                for d in self.deliveries
                if d.status == Status.SENDING and d.pk not in self._lost
            ]

    # --- the gate: any thread, no database --------------------------------
    def admits(self, delivery: Delivery) -> bool:
        with self._lock:
            if time.monotonic() < self._callable_until.get(delivery.pk, -math.inf):
                self.admitted.add(delivery.pk)
                return True
            return False

    # --- the main thread --------------------------------------------------
    def confirm(self, deliveries: list[Delivery], *, until: float) -> list[Delivery]:
        """Check the tokens of a group about to be sent, renew their leases and
        stamp ``attempted_at``, in one statement; return those still held.

        They may then be called for ``CONFIRMATION_SECONDS`` (half a lease at
        most), and not after ``until`` (monotonic).
        """
        started = time.monotonic()
        now = timezone.now()
        kept = fenced_update(
            deliveries,
            {
                "lease_expires_at": now + datetime.timedelta(seconds=lease_seconds()),
                "attempted_at": now,
            },
        )
        callable_until = min(
            started + min(CONFIRMATION_SECONDS, lease_seconds() / 2), until
        )
        with self._lock:
            for delivery in deliveries:
                if delivery.pk in kept:
                    self._callable_until[delivery.pk] = callable_until
                    delivery.attempted_at = now
                else:
                    self._lose(delivery.pk)
        return [d for d in deliveries if d.pk in kept]

    def recording(self, ids: Iterable[int], *, done: bool = False) -> None:
        """Rows being recorded are left out of renewals: the heartbeat's
        statement would wait for the recording's row locks, or it for them."""
        with self._lock:
            if done:
                self._recording.difference_update(ids)
            else:
                self._recording.update(ids)

    # --- the heartbeat thread ---------------------------------------------
    def renew(self) -> None:
        """Extend the leases of everything still held; forget what was taken."""
        with self._lock:
            held = [
                d
                for d in self.deliveries
                if d.status == Status.SENDING
                and d.pk not in self._lost
                and d.pk not in self._recording
            ]
        if not held:
            return
        until = timezone.now() + datetime.timedelta(seconds=lease_seconds())
        kept = fenced_update(held, {"lease_expires_at": until})
        with self._lock:
            for delivery in held:
                if delivery.pk not in kept and delivery.status == Status.SENDING:
                    self._lose(delivery.pk)

    def lose(self, ids: Iterable[int]) -> None:
        """Forget deliveries a fenced write found taken."""
        with self._lock:
            for pk in ids:
                self._lose(pk)

    def _lose(self, pk: int) -> None:
        # Another worker holds it now (or it was settled elsewhere, by a
        # provider's report): this task neither sends nor records it.
        self._lost.add(pk)
        self._callable_until.pop(pk, None)


class Heartbeat:
    """Renews a task's leases every third of a lease while the block runs, on
    its own thread and database connection (closed when the block ends), and
    never past ``until`` (monotonic): a task django-q2 is about to stop must
    not keep its rows."""

    def __init__(self, claims: Claims, *, until: float) -> None:
        self.claims = claims
        self.until = until
        self.every = max(0.5, lease_seconds() / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="delivery-heartbeat", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        # A beat blocked on the database finishes on its own (daemon thread;
        # its fenced statement can no longer change a settled row).
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                if time.monotonic() >= self.until:
                    return
                try:
                    self.claims.renew()
                except (OperationalError, InterfaceError):
                    # The database went away: try again at the next beat
                    # with a new connection. Meanwhile confirmations lapse
                    # and nothing is sent.
                    logger.warning("lease renewal failed: database unavailable")
                    close_quietly()
        finally:
            close_quietly()


def close_quietly() -> None:
    try:
        connection.close()
    except Exception:  # a broken connection may fail to close
        logger.debug("closing a broken database connection failed")


class TaskClock:
    """A delivery task's time, on the monotonic clock.

    django-q2 stops a task after ``Q_CLUSTER["timeout"]`` seconds: no call
    starts later than ``sends_until(backend)`` (the deadline less the
    longest call), so every outcome is recorded before then. ``db`` runs a
    step again when the database connection was lost (a restart).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.started = time.monotonic()
        if timeout is None:
            timeout = (getattr(settings, "Q_CLUSTER", {}) or {}).get("timeout")
        self.deadline = (
            self.started + float(timeout) - TASK_MARGIN
            if timeout and timeout > 0
            else math.inf
        )

    def sends_until(self, backend: object) -> float:
        return self.deadline - float(getattr(backend, "call_timeout", 0.0) or 0.0)

    def db(self, step: Callable[[], T]) -> T:
        """``step()``; when it fails because the connection to the database was
        lost, reconnect and run it again, for up to ``DB_RETRY_SECONDS`` and
        never past the deadline. Raises the last error then, or at once
        inside a caller's transaction (it cannot be retried from here).

        A retried step must be safe to run twice: fenced writes are (a row
        already written is no longer ``sending`` with this token).
        """
        give_up = min(time.monotonic() + DB_RETRY_SECONDS, self.deadline)
        pause = 0.2
        while True:
            try:
                return step()
            except (OperationalError, InterfaceError):
                if connection.in_atomic_block or time.monotonic() + pause >= give_up:
                    raise
                logger.warning("database unavailable; retrying in %.1f s", pause)
                close_quietly()
                time.sleep(pause)
                pause = min(pause * 2, 2.0)


def atomic_step(step: Callable[[], T]) -> Callable[[], T]:
    """``step`` in one transaction: a retried step never finds half of it
    written."""

    def run() -> T:
        with transaction.atomic():
            return step()

    return run
