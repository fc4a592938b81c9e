"""Two real worker clusters racing on one patient never send past the cap
(issue 17, item 4): the admission is decided under the patient's lock."""

import datetime
import time
import uuid

import pytest

from django.db import connection

from messaging.models import Delivery, OutboxEntry
from tests.support.processes import Cluster, cluster_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (real workers side by side)",
    ),
]
MESSAGES = 8  # to the patient the clusters race on, one per task
CAP = 2
# Each task also carries deliveries to other patients, as a real batch does:
# a worker takes a while over it, so the clusters' batches overlap.
OTHERS_PER_TASK = 199


def queued_batches() -> tuple[list[list[int]], list[int]]:
    """Tasks of care SMS planned while no worker ran, under a care cap of
    ``CAP`` a day and no quiet hours: each holds one SMS to the same patient
    and ``OTHERS_PER_TASK`` to others. Returns (the tasks' delivery ids, the
    ids of the deliveries to the raced patient)."""
    from clinic.models import Organization, Patient
    from consent.models import Topic
    from consent.services import policy_get
    from messaging.models import Message

    organization = Organization.objects.create(
        name="Race",
        slug=f"race-{uuid.uuid4().hex[:8]}",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    policy = policy_get(organization=organization)
    policy.send_from, policy.send_until = datetime.time(0), datetime.time.max
    policy.care_cap, policy.care_cap_days = CAP, 1
    policy.fatigue_budget = 1000
    policy.save()
    topic = Topic.objects.create(
        organization=organization,
        slug="results",
        name_en="Results",
        name_fr="Résultats",
        purpose="care",
        channels=["inapp", "sms"],
    )
    patients = Patient.objects.bulk_create(
        Patient(
            organization=organization,
            identifier=f"RACE-{n}",
            given_name="Salomé",
            family_name=f"Course {n}",
            birth_date=datetime.date(1980, 1, 1),
            preferred_language="fr",
            time_zone="Europe/Paris",
            phone=f"+336123{n:05d}",
            phone_is_mobile=True,
        )
        for n in range(1 + MESSAGES * OTHERS_PER_TASK)
    )
    raced, others = patients[0], patients[1:]
    recipients = [
        [raced, *others[t * OTHERS_PER_TASK : (t + 1) * OTHERS_PER_TASK]]
        for t in range(MESSAGES)
    ]
    messages = Message.objects.bulk_create(
        Message(
            organization=organization,
            patient=patient,
            topic=topic,
            origin="system",
            sensitivity="public",
            language="fr",
            body=f"Message {t}",
            content_hash=f"race-{t}",
            free_text=True,
        )
        for t, task in enumerate(recipients)
        for patient in task
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(message=m, channel="sms", body=m.body, address=str(m.patient.phone))
        for m in messages
    )
    size = 1 + OTHERS_PER_TASK
    tasks = [
        [d.pk for d in deliveries[t * size : (t + 1) * size]] for t in range(MESSAGES)
    ]
    return tasks, [task[0] for task in tasks]


def test_two_clusters_racing_on_one_patient_send_no_more_than_the_cap():
    # given: eight tasks queued, each with one SMS to the raced patient
    from django_q.tasks import async_task

    tasks, ids = queued_batches()
    for task in tasks:
        async_task("messaging.tasks.deliveries_process", task, sync=False)
    everything = [pk for task in tasks for pk in task]
    env = cluster_env(
        SMS_BACKEND="outbox",
        Q_WORKERS="2",
        Q_TIMEOUT="20",
        Q_RETRY="40",
        MESSAGING_LEASE_SECONDS="30",
    )
    # when: two clusters start together and take them
    clusters = [Cluster(env), Cluster(env)]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            settled = Delivery.objects.filter(
                pk__in=everything, status__in=["sent", "suppressed"]
            ).count()
            if settled == len(everything):
                break
            time.sleep(0.5)
    finally:
        for cluster in clusters:
            cluster.stop()
    # then: exactly the cap reached the raced patient; the rest say why not
    outcome = sorted(
        Delivery.objects.filter(pk__in=ids).values_list("status", "reason")
    )
    assert outcome == [("sent", "")] * CAP + [("suppressed", "frequency_cap")] * (
        MESSAGES - CAP
    )
    assert OutboxEntry.objects.filter(channel="sms", delivery_id__in=ids).count() == CAP
    assert Delivery.objects.filter(pk__in=everything, status="sent").count() == (
        len(everything) - MESSAGES + CAP
    )
