"""The scheduler's finders: each is its own django-q2 schedule, so a slow one
never delays another, and one failing never stops the others."""

import ast
import threading

import pytest
from django_q.models import Schedule

from core import scheduler, tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def finders(monkeypatch):
    registered = {}
    monkeypatch.setattr(scheduler, "_finders", registered)
    return registered


def test_one_failing_finder_does_not_stop_the_others(finders):
    def broken(now):
        raise RuntimeError("boom")

    finders["broken"] = broken
    finders["fine"] = lambda now: 3
    assert scheduler.due_run() == {"broken": -1, "fine": 3}
    assert (tasks.finder_run("broken"), tasks.finder_run("fine")) == (-1, 3)


def test_each_finder_is_its_own_schedule_every_minute():
    registered = set(scheduler._finders)
    assert {"reminders", "recurring", "campaigns", "surveys", "webhooks"} <= registered
    jobs = Schedule.objects.filter(func="core.tasks.finder_run")
    assert {job.name: ast.literal_eval(job.args) for job in jobs} == {
        f"due: {name}": (name,) for name in registered
    }
    assert {(job.schedule_type, job.minutes, job.repeats) for job in jobs} == {
        ("I", 1, -1)
    }
    assert not Schedule.objects.filter(name="outreach: due").exists()


def test_a_finders_task_runs_that_finder_only(finders):
    ran = []
    finders["reminders"] = lambda now: ran.append("reminders") or 1
    finders["campaigns"] = lambda now: ran.append("campaigns") or 2
    assert tasks.finder_run("campaigns") == 2
    assert ran == ["campaigns"]


def test_a_slow_finder_does_not_delay_another(finders):
    # given: a campaign tick that is still running (it waits to be released)
    started, release = threading.Event(), threading.Event()

    def slow(now):
        started.set()
        release.wait(30)
        return 1

    finders["campaigns"] = slow
    finders["webhooks"] = lambda now: 4
    tick = threading.Thread(target=tasks.finder_run, args=("campaigns",))
    tick.start()
    try:
        assert started.wait(30)
        # when: the webhook retries' schedule comes due meanwhile
        planned = tasks.finder_run("webhooks")
        # then: they ran at once, the campaign tick still running
        assert planned == 4
        assert tick.is_alive()
    finally:
        release.set()
        tick.join()


def test_a_schedule_left_by_a_finder_that_is_gone_does_nothing(finders):
    assert tasks.finder_run("gone") == -1
