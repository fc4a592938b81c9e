"""Two worker clusters run the due finder at the same time over many due
reminders: each reminder is planned (and sent) exactly once. Real qcluster
processes on PostgreSQL: sync mode would hide the race this looks for."""

import collections
import datetime
import re
import subprocess
import sys

import pytest

from django.db import connection
from django.utils import timezone

from clinic.models import Appointment, Patient
from messaging.models import Message
from outreach.reminders.models import Reminder
from tests.clinic.factories import SiteFactory
from tests.outreach.reminders_factories import ReminderRuleFactory, reminder_topic
from tests.support.clusters import cluster_queue_empty, wait_until
from tests.support.processes import ROOT, cluster_env, stop_group

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (SKIP LOCKED, real workers)",
    ),
]
REMINDERS = 600
SENT_LINE = re.compile(r"reminder (\d+) sent as message")


def due_reminders(organization, count: int) -> list[int]:
    """``count`` pending reminders due a minute ago, for appointments tomorrow."""
    topic = reminder_topic(organization)
    rule = ReminderRuleFactory(organization=organization, topic=topic, offsets="2h")
    site = SiteFactory(organization=organization)
    patients = Patient.objects.bulk_create(
        Patient(
            organization=organization,
            identifier=f"C-{n:05d}",
            given_name="Camille",
            family_name=f"Martin {n}",
            birth_date=datetime.date(1980, 1, 1),
            preferred_language="fr",
            time_zone="Europe/Paris",
            phone=f"+336{n:08d}",
            phone_is_mobile=True,
        )
        for n in range(count)
    )
    start = timezone.now() + datetime.timedelta(days=1)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            organization=organization,
            patient=patient,
            site=site,
            starts_at=start,
            ends_at=start + datetime.timedelta(minutes=30),
        )
        for patient in patients
    )
    due = timezone.now() - datetime.timedelta(minutes=1)
    reminders = Reminder.objects.bulk_create(
        Reminder(appointment=a, rule=rule, offset="2h", due_at=due)
        for a in appointments
    )
    return [r.pk for r in reminders]


def start_cluster(log_path):
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=cluster_env(Q_WORKERS="2", Q_TIMEOUT="120", Q_RETRY="150"),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def stop(process, log) -> None:
    stop_group(process)
    log.close()


def test_two_clusters_send_each_due_reminder_once(organization, tmp_path):
    from django_q.tasks import async_task

    # given: many due reminders and two clusters
    ids = due_reminders(organization, REMINDERS)
    clusters = [start_cluster(tmp_path / f"cluster{n}.log") for n in (1, 2)]
    try:
        # when: every worker of both clusters runs the finder at once
        for _ in range(8):
            async_task("core.tasks.finder_run", "reminders", sync=False)
        wait_until(
            lambda: not Reminder.objects.filter(pk__in=ids, status="pending").exists(),
            timeout=180,
        )
        # the finders still running log their last batch
        wait_until(cluster_queue_empty, timeout=30)
    finally:
        for process, log in clusters:
            stop(process, log)
    # then: all sent, each exactly once, by both clusters' own account
    statuses = collections.Counter(
        Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)
    )
    assert statuses == {"sent": REMINDERS}
    sends = collections.Counter(
        int(match[1])
        for n in (1, 2)
        for match in SENT_LINE.finditer((tmp_path / f"cluster{n}.log").read_text())
    )
    assert set(sends) == set(ids)
    assert set(sends.values()) == {1}
    assert Message.objects.filter(origin="reminder").count() == REMINDERS
    by_cluster = [
        len(SENT_LINE.findall((tmp_path / f"cluster{n}.log").read_text()))
        for n in (1, 2)
    ]
    assert all(by_cluster), by_cluster  # both really took part
