"""The periodic jobs survive ``flush`` (and a test database reset): without
them the scheduler would silently never run again."""

import pytest
from django_q.models import Schedule

from django.core.management import call_command

# Each finder is its own schedule (core.scheduler): one slow finder never
# delays another.
FINDERS = ["reminders", "recurring", "campaigns", "surveys", "webhooks", "idempotency"]
JOBS = {
    **{f"due: {name}": "core.tasks.finder_run" for name in FINDERS},
    "messaging: deliveries due": "messaging.tasks.deliveries_requeue_due",
    "messaging: escalations due": "messaging.tasks.messages_escalate_due",
    "messaging: expired secrets": "messaging.tasks.message_secrets_expire",
    "insights: day counts compacted": "insights.tasks.day_counts_compact",
}
# Once a day: the retention purge (core.retention).
DAILY = {"retention: nightly purge": "core.retention.purge_expired"}


@pytest.mark.django_db(transaction=True)
def test_flush_puts_the_jobs_back_and_keeps_an_operators_change():
    Schedule.objects.filter(name="due: campaigns").update(minutes=5)
    Schedule.objects.filter(name="messaging: deliveries due").delete()

    call_command("flush", interactive=False, verbosity=0)

    jobs = {
        s.name: (s.func, s.schedule_type, s.minutes) for s in Schedule.objects.all()
    }
    assert jobs == {
        **{name: (func, "I", 1) for name, func in JOBS.items()},
        **{name: (func, "D", None) for name, func in DAILY.items()},
    }
    finders = Schedule.objects.filter(func="core.tasks.finder_run")
    assert sorted(finders.values_list("args", flat=True)) == sorted(
        repr((name,)) for name in FINDERS
    )


@pytest.mark.django_db
def test_a_changed_interval_is_not_reset_by_migrate():
    Schedule.objects.filter(name="due: campaigns").update(minutes=5)
    Schedule.objects.filter(name="messaging: escalations due").delete()

    call_command("migrate", interactive=False, verbosity=0)

    jobs = {s.name: s.minutes for s in Schedule.objects.all()}
    assert jobs == {
        **{f"due: {name}": 1 for name in FINDERS},
        "due: campaigns": 5,
        "messaging: deliveries due": 1,
        "messaging: escalations due": 1,
        "messaging: expired secrets": 1,
        "insights: day counts compacted": 1,
        "retention: nightly purge": None,
    }
