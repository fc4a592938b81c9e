"""A claim's attempt number fences it: a worker that lost its claim (its lease
expired while it stalled) neither calls the provider nor records anything, and
a task gives back what it could not send in time (messaging.services.claims)."""

import datetime
import math
import threading
import time

import pytest
import time_machine

from django.db import OperationalError
from django.db.models import F
from django.test import override_settings

from consent.models import SendRecord
from messaging.backends.base import BaseBackend, DeliveryError
from messaging.models import Delivery
from messaging.services import deliveries_process
from messaging.services import delivering as delivering_module
from messaging.services.claims import (
    CONFIRMATION_SECONDS,
    Claims,
    Heartbeat,
    fenced_update,
)
from messaging.services.delivering import _claim
from tests.support.clock import WEEKDAY_NOON_PARIS
from tests.support.planned import planned_deliveries

pytestmark = pytest.mark.django_db
LEASE = datetime.timedelta(seconds=300)


class Recording(BaseBackend):
    """Sends to a list; ``during(delivery)`` lets a test act while a call is in
    flight (the main thread: BaseBackend.send_many calls one by one)."""

    provider = "recording"
    sent: list[int] = []
    during = None
    call_timeout = 0.0

    def send(self, delivery):
        if Recording.during:
            Recording.during(delivery)
        Recording.sent.append(delivery.pk)
        return f"r-{delivery.pk}"


RECORDING = {"sms": {"BACKEND": "tests.messaging.test_fencing.Recording"}}


@pytest.fixture
def recording():
    Recording.sent, Recording.during, Recording.call_timeout = [], None, 0.0
    with override_settings(MESSAGING_BACKENDS=RECORDING):
        yield Recording
    Recording.sent, Recording.during, Recording.call_timeout = [], None, 0.0


@pytest.fixture(autouse=True)
def _at_noon():
    with time_machine.travel(WEEKDAY_NOON_PARIS, tick=False):
        yield


class Monotonic:
    """``time.monotonic`` that a test moves forward: a process stopped (SIGSTOP)
    or starved finds this much time gone when it runs again."""

    def __init__(self, monkeypatch):
        self.real, self.offset = time.monotonic, 0.0
        monkeypatch.setattr(time, "monotonic", lambda: self.real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def taken_by_another_worker(pk: int) -> None:
    """What another worker's claim does to the row: the next attempt number."""
    Delivery.objects.filter(pk=pk).update(attempts=F("attempts") + 1)


def sms(count: int) -> list[int]:
    return planned_deliveries(channel="sms", count=count)


def test_a_fenced_update_changes_only_the_rows_still_held():
    """Same id, same attempt number, still sending: nothing else is written."""
    # given: three claims of attempt 1; another worker now holds the second,
    # and the third was settled meanwhile
    held, taken, settled = _claim(sms(3), WEEKDAY_NOON_PARIS)
    taken_by_another_worker(taken.pk)
    Delivery.objects.filter(pk=settled.pk).update(status="sent")
    # when
    kept = fenced_update([held, taken, settled], {"error_code": "x"})
    # then
    assert kept == {held.pk}
    assert list(
        Delivery.objects.filter(error_code="x").values_list("pk", flat=True)
    ) == [held.pk]


def test_a_result_that_comes_back_after_another_worker_took_the_delivery_is_dropped(
    recording,
):
    """The call was made (a stale holder's last window), but its outcome is
    not recorded: the new holder reconciles it with the provider instead.
    The admission made at claim time stays (it may have left); the result
    adds nothing to it."""
    # given: while the call is in flight, the lease lapses and another worker
    # claims the SMS
    (pk,) = sms(1)
    recording.during = lambda delivery: taken_by_another_worker(delivery.pk)
    # when
    counts = deliveries_process([pk])
    # then
    row = Delivery.objects.get(pk=pk)
    assert (row.status, row.attempts, row.provider_id) == ("sending", 2, "")
    assert counts == {"fenced": 1}
    assert SendRecord.objects.count() == 1


def test_a_worker_whose_confirmation_lapsed_confirms_again_before_calling(
    recording, monkeypatch
):
    """A worker that resumes after a pause asks the database again: what
    another worker took is not sent, the rest is sent once."""
    # given: three SMS; during the first call the worker stalls past its
    # confirmation, and meanwhile another worker takes the second
    first, second, third = sms(3)
    clock = Monotonic(monkeypatch)

    def stall(delivery):
        if delivery.pk == first:
            clock.advance(CONFIRMATION_SECONDS + 1)
            taken_by_another_worker(second)

    recording.during = stall
    # when
    counts = deliveries_process([first, second, third])
    # then
    assert recording.sent == [first, third]
    assert counts == {"sent": 2}
    assert Delivery.objects.get(pk=second).status == "sending"  # the other's


def test_each_group_is_confirmed_in_the_database_just_before_its_calls(recording):
    """At call time the row is this claim's: lease renewed, attempt stamped."""
    # given
    (pk,) = sms(1)
    seen = {}
    recording.during = lambda delivery: seen.update(
        Delivery.objects.filter(pk=delivery.pk).values(
            "status", "attempts", "attempted_at", "lease_expires_at"
        )[0]
    )
    # when
    deliveries_process([pk])
    # then
    assert seen == {
        "status": "sending",
        "attempts": 1,
        "attempted_at": WEEKDAY_NOON_PARIS,
        "lease_expires_at": WEEKDAY_NOON_PARIS + LEASE,
    }


def test_renewing_extends_the_leases_held_and_drops_what_another_worker_took():
    # given: two claims, the second taken by another worker
    kept, taken = _claim(sms(2), WEEKDAY_NOON_PARIS)
    for delivery in (kept, taken):
        delivery.status = "sending"
    claims = Claims([kept, taken], uncertain=set())
    taken_by_another_worker(taken.pk)
    later = WEEKDAY_NOON_PARIS + datetime.timedelta(seconds=100)
    # when
    with time_machine.travel(later, tick=False):
        claims.renew()
    # then
    leases = dict(Delivery.objects.values_list("pk", "lease_expires_at"))
    assert leases == {kept.pk: later + LEASE, taken.pk: WEEKDAY_NOON_PARIS + LEASE}
    assert claims.held() == [kept]
    assert not claims.admits(taken)


def test_the_heartbeat_renews_while_the_block_runs_and_stops_after():
    # given: a third of a (short) lease between beats
    class Counting:
        def __init__(self):
            self.beats, self.beat = 0, threading.Event()

        def renew(self):
            self.beats += 1
            self.beat.set()

    claims = Counting()
    # when
    with override_settings(MESSAGING_LEASE_SECONDS=1.5):
        with Heartbeat(claims, until=math.inf) as heartbeat:
            assert claims.beat.wait(timeout=10)
        # then
        assert not heartbeat._thread.is_alive()


@override_settings(Q_CLUSTER={"timeout": 10})
def test_what_was_not_started_before_the_time_limit_is_released_and_queued_again(
    recording, monkeypatch
):
    """With 10 s per task and calls of up to 7 s, no call starts after the
    first second; the rest goes back to the queue in a new task, at once."""
    # given: the first call takes two seconds
    recording.call_timeout = 7.0
    first, second, third = sms(3)
    clock = Monotonic(monkeypatch)
    recording.during = lambda delivery: clock.advance(2)
    enqueued = []
    monkeypatch.setattr(delivering_module, "deliveries_enqueue", enqueued.append)
    # when
    counts = deliveries_process([first, second, third])
    # then
    assert recording.sent == [first]
    assert counts == {"sent": 1, "released": 2}
    assert enqueued == [[second, third]]
    rows = Delivery.objects.filter(pk__in=[second, third])
    assert {(r.status, r.next_attempt_at, r.lease_expires_at) for r in rows} == {
        ("queued", WEEKDAY_NOON_PARIS, None)
    }


@override_settings(Q_CLUSTER={"timeout": 10})
def test_an_outcome_not_reconciled_before_the_time_limit_stays_unknown(
    recording, monkeypatch
):
    """A delivery an earlier attempt may have sent is released as unknown,
    never queued to be sent blindly."""
    # given: an SMS whose worker died mid-send; no time left to ask
    recording.call_timeout = 9.0
    (pk,) = sms(1)
    Delivery.objects.filter(pk=pk).update(
        status="sending", attempts=1, lease_expires_at=WEEKDAY_NOON_PARIS - LEASE
    )
    monkeypatch.setattr(delivering_module, "deliveries_enqueue", lambda ids: None)
    # when
    counts = deliveries_process([pk])
    # then
    assert counts == {"released": 1}
    assert Delivery.objects.get(pk=pk).status == "unknown"
    assert recording.sent == []


@pytest.mark.django_db(transaction=True)
def test_outcomes_are_recorded_once_the_database_connection_is_back(
    recording, monkeypatch
):
    """A connection lost while recording (a database restart) is opened again
    and the group recorded whole, once."""
    # given: the first attempt to record finds the connection gone
    ids = sms(2)
    record = delivering_module.results_record
    failures = [OperationalError("server closed the connection unexpectedly")]

    def flaky(outcomes, now, **kwargs):
        if failures:
            raise failures.pop()
        return record(outcomes, now, **kwargs)

    monkeypatch.setattr(delivering_module, "results_record", flaky)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    # when
    counts = deliveries_process(ids)
    # then
    assert counts == {"sent": 2}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert SendRecord.objects.count() == 2
    assert len(recording.sent) == 2


class AlwaysBusy(BaseBackend):
    provider = "busy"

    def send(self, delivery):
        raise DeliveryError("busy", code="503")


@override_settings(
    MESSAGING_MAX_ATTEMPTS=2,
    MESSAGING_BACKENDS={"sms": {"BACKEND": "tests.messaging.test_fencing.AlwaysBusy"}},
)
def test_a_delivery_fails_after_its_last_allowed_attempt():
    """MESSAGING_MAX_ATTEMPTS attempts, not one more: the claim's own attempt
    number is the one counted."""
    # given
    (pk,) = sms(1)
    deliveries_process([pk])
    Delivery.objects.filter(pk=pk).update(next_attempt_at=WEEKDAY_NOON_PARIS)
    # when: the second attempt fails too
    deliveries_process([pk])
    # then
    row = Delivery.objects.get(pk=pk)
    assert (row.status, row.reason, row.attempts) == ("failed", "retries_exhausted", 2)


class PrimaryForOdd(BaseBackend):
    provider = "primary"

    def send(self, delivery):
        if delivery.pk % 2 == 0:
            raise DeliveryError("busy", code="503")
        return f"p-{delivery.pk}"


def test_each_send_is_recorded_with_the_provider_that_sent_it():
    """A failover group sent partly by each provider: status callbacks find
    each delivery under its own provider."""
    # given: the primary takes odd ids, the secondary the others
    ids = sms(2)
    failover = {
        "BACKEND": "messaging.backends.sms.failover.SmsBackend",
        "OPTIONS": {
            "primary": {"BACKEND": "tests.messaging.test_fencing.PrimaryForOdd"},
            "secondary": {"BACKEND": "messaging.backends.locmem.Backend"},
        },
    }
    # when
    with override_settings(MESSAGING_BACKENDS={"sms": failover}):
        deliveries_process(ids)
    # then
    assert dict(Delivery.objects.values_list("pk", "provider")) == {
        pk: "primary" if pk % 2 else "locmem" for pk in ids
    }
