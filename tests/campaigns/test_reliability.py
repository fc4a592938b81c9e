"""A campaign against real parts: PostgreSQL, two real qcluster processes (one
killed and restarted twice), the fake Sinch over HTTP counting what it receives."""

import datetime
import time

import pytest

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient
from campaigns.planner import campaign_plan_due
from campaigns.selectors import campaign_progress
from campaigns.services import campaign_cancel, campaign_schedule
from clinic.models import Organization, Patient
from consent.models import ConsentEvent, ConsentState, Topic
from consent.services import policy_get
from messaging.models import Delivery, SenderIdentity, Template
from tests.clinic.factories import StaffMemberFactory, UserFactory
from tests.support.clusters import (
    cluster_queue_empty,
    enqueue_in_cluster,
    sms_env,
    wait_until,
)
from tests.support.processes import Cluster, FakeSinch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (SKIP LOCKED, real workers)",
    ),
]


@pytest.fixture
def sinch():
    fake = FakeSinch()
    yield fake
    fake.stop()


# The size issue 6 names; both tests together take about two and a half
# minutes on two cores.
RECIPIENTS = 10_000


def audience(count: int) -> tuple[Campaign, set[int]]:
    """A campaign to ``count`` patients with a mobile; every tenth never
    opted in and every tenth (+5) withdrew SMS. Returns it and the eligible ids."""
    organization = Organization.objects.create(
        name="Campaigns",
        slug="campaigns",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    SenderIdentity.objects.create(
        organization=organization, provider="sinch", phone_number="+33757000001"
    )
    policy = policy_get(organization=organization)
    policy.send_from, policy.send_until = datetime.time(0), datetime.time.max
    policy.marketing_on_sundays = policy.marketing_on_holidays = True
    policy.marketing_per_week = policy.fatigue_budget = 1000
    policy.save()
    topic = Topic.objects.create(
        organization=organization,
        slug="flu",
        name_en="Flu",
        name_fr="Grippe",
        purpose="marketing",
        channels=["sms"],
    )
    Template.objects.create(
        topic=topic, channel="sms", language="fr", body="Vaccin grippe"
    )
    patients = Patient.objects.bulk_create(
        Patient(
            organization=organization,
            identifier=f"R{n:06d}",
            given_name="P",
            family_name=f"N{n}",
            birth_date=datetime.date(1970, 1, 1),
            preferred_language="fr",
            time_zone="Europe/Paris",
            phone=f"+3361{n:07d}",
            phone_is_mobile=True,
        )
        for n in range(count)
    )
    earlier = timezone.now() - datetime.timedelta(days=2)
    events = []
    for n, patient in enumerate(patients):
        if n % 10 == 0:
            continue  # never opted in
        events.append(
            ConsentEvent(
                patient=patient,
                purpose="marketing",
                action="granted",
                source="import",
                occurred_at=earlier,
            )
        )
        if n % 10 == 5:
            events.append(
                ConsentEvent(
                    patient=patient,
                    purpose="marketing",
                    channel="sms",
                    action="withdrawn",
                    source="sms-keyword",
                    occurred_at=earlier + datetime.timedelta(hours=1),
                )
            )
    ConsentEvent.objects.bulk_create(events)
    ConsentState.objects.bulk_create(
        ConsentState(
            patient_id=e.patient_id,
            scope="purpose:marketing",
            channel=e.channel or "*",
            granted=e.action == "granted",
            event_id=e.pk,
            occurred_at=e.occurred_at,
        )
        for e in events
    )
    eligible = {p.pk for n, p in enumerate(patients) if n % 10 not in (0, 5)}
    # The author's role must allow the topic's purpose (clinic.roles).
    author = StaffMemberFactory(
        organization=organization, role="marketing", user__username="author"
    ).user
    approver = UserFactory(username="approver", is_superuser=True, is_staff=True)
    campaign = Campaign.objects.create(
        organization=organization,
        topic=topic,
        name="Flu",
        author=author,
        approver=approver,
        status="approved",
    )
    return campaign, eligible


def sent_patients(campaign) -> list[int]:
    return list(
        Delivery.objects.filter(
            message__origin_ref=campaign.origin_ref, status="sent"
        ).values_list("message__patient_id", flat=True)
    )


def by_reference(fake) -> dict[int, int]:
    """delivery id → how many times the provider received it."""
    return {int(ref.removeprefix("liaison-")): n for ref, n in fake.sent().items()}


def test_every_eligible_patient_gets_it_once_across_a_killed_cluster(sinch):
    # given: an approved campaign, scheduled now, and two clusters
    campaign, eligible = audience(RECIPIENTS)
    campaign_schedule(campaign=campaign, user=campaign.approver)
    clusters = [Cluster(sms_env(sinch)), Cluster(sms_env(sinch))]
    last = [0.0]

    def poke() -> None:  # what the one-minute schedules do, more often
        if time.monotonic() - last[0] > 3:
            last[0] = time.monotonic()
            enqueue_in_cluster("core.tasks.finder_run", "campaigns")
            enqueue_in_cluster(
                "core.tasks.finder_run", "campaigns"
            )  # both clusters plan
            enqueue_in_cluster("messaging.tasks.deliveries_requeue_due")

    try:
        # when: a cluster is SIGKILLed during the send and restarted, twice
        poke()
        for share, victim in ((0.3, 0), (0.6, 1)):
            assert wait_until(
                lambda share=share: (
                    len(sent_patients(campaign)) >= len(eligible) * share
                ),
                timeout=120,
                poke=poke,
            )
            clusters[victim].kill()
            clusters[victim] = Cluster(sms_env(sinch))
        assert wait_until(
            lambda: len(sent_patients(campaign)) == len(eligible),
            timeout=180,
            poke=poke,
        ), campaign_progress(campaign=campaign)
    finally:
        for cluster in clusters:
            cluster.stop()
    # then: the provider received each eligible patient's SMS exactly once
    received = by_reference(sinch)
    assert set(received.values()) == {1}
    patients = dict(
        Delivery.objects.filter(pk__in=received).values_list(
            "pk", "message__patient_id"
        )
    )
    assert sorted(patients.values()) == sorted(eligible)
    assert sorted(sent_patients(campaign)) == sorted(eligible)
    # nobody planned twice, and admin's counts are the delivery rows
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert recipients.count() == RECIPIENTS
    progress = campaign_progress(campaign=campaign)
    rows = Delivery.objects.filter(message__origin_ref=campaign.origin_ref)
    assert progress.deliveries == {
        (channel, status): n
        for channel, status, n in rows.values_list("channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    assert progress.deliveries == {("sms", "sent"): len(eligible)}
    assert progress.sent == len(eligible)
    assert progress.excluded == {
        "no_opt_in": RECIPIENTS // 10,
        "opted_out": RECIPIENTS // 10,
    }


def test_cancel_at_forty_percent_sends_nothing_claimed_after_it(sinch, monkeypatch):
    from django_q.conf import Conf

    # The test plans (in this process); the clusters must do the sending.
    monkeypatch.setattr(Conf, "SYNC", False)
    # given: a throttled campaign; the test plays the scheduler's ticks
    campaign, _eligible = audience(RECIPIENTS)
    Campaign.objects.filter(pk=campaign.pk).update(throttle_per_minute=RECIPIENTS // 5)
    campaign.refresh_from_db()
    start = timezone.now()
    campaign_schedule(campaign=campaign, user=campaign.approver, now=start)
    clusters = [Cluster(sms_env(sinch)), Cluster(sms_env(sinch))]
    try:
        for minute in range(2):  # 40% of the audience planned, being sent
            campaign_plan_due(
                campaign_id=campaign.pk, now=start + datetime.timedelta(minutes=minute)
            )
        assert wait_until(
            lambda: len(sent_patients(campaign)) > 0, timeout=60, every=0.05
        )
        # when: cancelled mid-send
        campaign_cancel(campaign=campaign, user=campaign.approver)
        in_flight_or_sent = set(
            Delivery.objects.filter(
                message__origin_ref=campaign.origin_ref,
                status__in=["sent", "sending", "unknown"],
            ).values_list("pk", flat=True)
        )
        for minute in range(2, 6):  # the later ticks plan nobody
            assert (
                campaign_plan_due(
                    campaign_id=campaign.pk,
                    now=start + datetime.timedelta(minutes=minute),
                )
                == 0
            )
        enqueue_in_cluster("messaging.tasks.deliveries_requeue_due")
        assert wait_until(
            lambda: (
                not Delivery.objects.filter(
                    message__origin_ref=campaign.origin_ref,
                    status__in=["queued", "sending", "unknown"],
                ).exists()
            ),
            timeout=60,
        )
        # the workers finish what they hold before the clusters stop
        wait_until(cluster_queue_empty, timeout=30)
    finally:
        for cluster in clusters:
            cluster.stop()
    # then: only what was sent or already in a worker's hands went out, once
    received = by_reference(sinch)
    assert set(received.values()) <= {1}
    assert set(received) <= in_flight_or_sent
    sent = set(
        Delivery.objects.filter(
            message__origin_ref=campaign.origin_ref, status="sent"
        ).values_list("pk", flat=True)
    )
    assert sent == set(received)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert recipients.exclude(status="pending").count() == RECIPIENTS
    assert recipients.filter(status="cancelled").count() == RECIPIENTS * 3 // 5
    assert len(sent) < RECIPIENTS * 0.4
