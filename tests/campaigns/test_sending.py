"""The finder plans due recipients once, within the throttle; pause and cancel
win, down to the deliveries a worker claims."""

import datetime
import inspect
import threading

import pytest
import time_machine

from django.db import connection, connections, transaction
from django.db.models import Count

from campaigns import locks, planner
from campaigns.models import Campaign, CampaignRecipient
from campaigns.planner import campaign_plan_due, campaigns_plan_due
from campaigns.services import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
)
from core import scheduler
from messaging.models import Delivery, Message
from messaging.services import deliveries_process
from tests.campaigns.conftest import move, patient
from tests.support.clock import WEEKDAY_NOON_PARIS
from tests.support.gc_watch import collections_watched

pytestmark = pytest.mark.django_db
MINUTE = datetime.timedelta(minutes=1)


def scheduled(make_campaign, user, **fields):
    campaign = move(make_campaign(**fields), "approved")
    campaign_schedule(campaign=campaign, user=user)
    return campaign


def statuses(campaign):
    return dict(
        CampaignRecipient.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
    )


def test_the_finder_is_registered_with_the_scheduler():
    assert scheduler._finders["campaigns"] is campaigns_plan_due


def test_due_recipients_are_planned_once_with_campaign_keys(
    make_campaign, approver, organization
):
    # given
    patients = [patient(organization) for _ in range(5)]
    campaign = scheduled(make_campaign, approver)
    # when: two ticks (or two clusters, one after the other)
    first = campaigns_plan_due(WEEKDAY_NOON_PARIS)
    second = campaigns_plan_due(WEEKDAY_NOON_PARIS + MINUTE)
    # then
    assert (first, second) == (5, 0)
    messages = Message.objects.filter(origin_ref=f"campaign:{campaign.pk}")
    assert sorted(messages.values_list("idempotency_key", flat=True)) == sorted(
        f"campaign:{campaign.pk}:{p.pk}" for p in patients
    )
    assert set(messages.values_list("origin", flat=True)) == {"campaign"}
    campaign.refresh_from_db()
    # Planned, not yet sent: still sending until the deliveries are out.
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.started_at == WEEKDAY_NOON_PARIS
    deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    campaigns_plan_due(WEEKDAY_NOON_PARIS + 2 * MINUTE)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert campaign.finished_at == WEEKDAY_NOON_PARIS + 2 * MINUTE


def test_deferred_deliveries_keep_the_campaign_sending_until_they_are_out(
    make_campaign, approver, organization, sms_outbox
):
    """Done means nothing is left to send: an SMS held for quiet hours keeps
    the campaign sending until it goes out the next morning."""
    # given: planned at 22:30 in Paris, inside the quiet hours
    patient(organization, email="")
    campaign = scheduled(make_campaign, approver)
    night = datetime.datetime(2026, 3, 10, 21, 30, tzinfo=datetime.UTC)
    ids = []
    with time_machine.travel(night, tick=False):
        campaigns_plan_due(night)
        ids = list(Delivery.objects.values_list("pk", flat=True))
        deliveries_process(ids)
        # when: the finder comes again, every recipient planned
        campaigns_plan_due(night + MINUTE)
    # then
    sms = Delivery.objects.get(channel="sms")
    assert (sms.status, sms.reason) == ("deferred", "quiet_hours")
    assert statuses(campaign) == {"planned": 1}
    campaign.refresh_from_db()
    assert (campaign.status, campaign.finished_at) == ("sending", None)
    # when: the morning comes and the SMS goes out
    morning = sms.next_attempt_at
    with time_machine.travel(morning, tick=False):
        deliveries_process(ids)
        campaigns_plan_due(morning)
    # then
    assert len(sms_outbox) == 1
    campaign.refresh_from_db()
    assert (campaign.status, campaign.finished_at) == ("done", morning)


def test_no_collection_starts_while_a_page_is_planned(
    make_campaign, approver, organization
):
    # given
    for _ in range(20):
        patient(organization)
    campaign = scheduled(make_campaign, approver)
    # when
    with collections_watched(inspect.unwrap(planner._plan_patients)) as seen:
        planned = campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS)
    # then: the page holds the collector off (messaging.services.collector)
    assert planned == 20
    assert seen.total > 0
    assert seen.inside == []


def test_the_throttle_limits_each_minute(make_campaign, approver, organization):
    # given
    for _ in range(7):
        patient(organization)
    campaign = scheduled(make_campaign, approver, throttle_per_minute=3)
    # when / then
    assert campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS) == 3
    assert (
        campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS + MINUTE / 2)
        == 0
    )
    assert (
        campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS + MINUTE) == 3
    )
    assert (
        campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS + 2 * MINUTE)
        == 1
    )
    assert Message.objects.count() == 7


def test_pages_are_bounded_and_cover_everyone(make_campaign, approver, organization):
    # given
    for _ in range(11):
        patient(organization)
    campaign = scheduled(make_campaign, approver)
    # when
    planned = campaign_plan_due(
        campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS, page_size=4
    )
    # then
    assert planned == 11
    assert statuses(campaign) == {"planned": 11}


def test_each_time_zone_is_planned_when_its_local_time_comes(
    make_campaign, approver, organization
):
    # given: 18:00 local; Paris is due at 17:00 UTC, New York at 22:00 UTC
    paris = patient(organization, time_zone="Europe/Paris")
    new_york = patient(organization, time_zone="America/New_York")
    scheduled(
        make_campaign,
        approver,
        schedule="local",
        local_date=datetime.date(2026, 3, 10),
        local_time=datetime.time(18, 0),
    )
    at_five = datetime.datetime(2026, 3, 10, 17, 0, tzinfo=datetime.UTC)
    # when / then
    assert campaigns_plan_due(at_five - MINUTE) == 0
    assert campaigns_plan_due(at_five) == 1
    assert Message.objects.get().patient == paris
    assert campaigns_plan_due(at_five + 4 * 60 * MINUTE) == 0
    assert campaigns_plan_due(at_five + 5 * 60 * MINUTE) == 1
    assert Message.objects.filter(patient=new_york).exists()


def test_a_paused_campaign_plans_nobody_until_resumed(
    make_campaign, approver, organization
):
    # given
    for _ in range(4):
        patient(organization)
    campaign = scheduled(make_campaign, approver, throttle_per_minute=2)
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    # when
    campaign_pause(campaign=campaign, user=approver)
    # then
    assert campaigns_plan_due(WEEKDAY_NOON_PARIS + MINUTE) == 0
    campaign_resume(campaign=campaign, user=approver)
    assert campaign.status == Campaign.Status.SENDING
    assert campaigns_plan_due(WEEKDAY_NOON_PARIS + 2 * MINUTE) == 2


def test_cancel_stops_planning_and_the_deliveries_not_yet_sent(
    make_campaign, approver, organization, sms_outbox
):
    # given: two planned (their SMS queued), two still pending
    for _ in range(4):
        patient(organization, email="")
    campaign = scheduled(make_campaign, approver, throttle_per_minute=2)
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    queued = Delivery.objects.filter(channel="sms", status="queued")
    assert queued.count() == 2
    # when
    stopped = campaign_cancel(campaign=campaign, user=approver)
    # then
    assert stopped == 4  # two SMS and their two inbox copies
    assert campaigns_plan_due(WEEKDAY_NOON_PARIS + MINUTE) == 0
    assert statuses(campaign) == {"planned": 2, "cancelled": 2}
    assert set(Delivery.objects.values_list("status", "reason")) == {
        ("cancelled", "campaign_cancelled")
    }
    deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    assert sms_outbox == []


def test_a_delivery_claimed_after_the_cancel_is_not_sent(
    make_campaign, approver, organization, sms_outbox
):
    """The claim-time check: a row the cancel did not catch (already taken
    back from a dead worker, say) is suppressed when a worker claims it."""
    # given
    patient(organization, email="")
    campaign = scheduled(make_campaign, approver)
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    Campaign.objects.filter(pk=campaign.pk).update(status="cancelled")
    # when
    deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    # then
    assert sms_outbox == []
    assert set(Delivery.objects.values_list("status", "reason")) == {
        ("suppressed", "campaign_cancelled")
    }


def test_a_paused_campaigns_deliveries_wait_and_go_after_resume(
    make_campaign, approver, organization, sms_outbox
):
    # given
    patient(organization, email="")
    campaign = scheduled(make_campaign, approver)
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    campaign_pause(campaign=campaign, user=approver)
    ids = list(Delivery.objects.values_list("pk", flat=True))
    # when
    deliveries_process(ids)
    # then
    assert sms_outbox == []
    sms = Delivery.objects.get(channel="sms")
    assert (sms.status, sms.reason) == ("deferred", "campaign_paused")
    assert sms.next_attempt_at == WEEKDAY_NOON_PARIS + MINUTE
    # when resumed, the next claim sends it
    campaign_resume(campaign=campaign, user=approver)
    Delivery.objects.update(next_attempt_at=WEEKDAY_NOON_PARIS)
    deliveries_process(ids)
    assert len(sms_outbox) == 1
    assert Delivery.objects.get(channel="sms").status == "sent"


def test_other_origins_are_not_asked(organization, sms_outbox):
    """A reminder with an origin_ref that looks like a campaign's is untouched."""
    from messaging.services import message_send
    from tests.consent.factories import TopicFactory
    from tests.messaging.factories import TemplateFactory

    topic = TopicFactory(organization=organization, slug="rdv", purpose="care")
    TemplateFactory(topic=topic, channel="sms", body="Rappel")
    someone = patient(organization, email="", opted_in=False)
    message_send(
        patient=someone, topic=topic, origin="reminder", origin_ref="campaign:1"
    )
    deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    assert len(sms_outbox) == 1


def test_the_finder_skips_a_campaign_another_cluster_is_planning(
    make_campaign, approver, organization, monkeypatch
):
    # given: a throttled campaign (planned a page after another, holding its
    # row), whose row is held by another planner

    patient(organization)
    campaign = scheduled(make_campaign, approver, throttle_per_minute=100)
    monkeypatch.setattr(planner, "_locked_campaign", lambda campaign_id: None)
    # then
    assert campaigns_plan_due(WEEKDAY_NOON_PARIS) == 0
    assert statuses(campaign) == {"pending": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked,
    reason="pages are shared only where rows can be claimed with SKIP LOCKED",
)
def test_planners_side_by_side_share_the_pages_and_plan_nobody_twice(
    make_campaign, approver, organization
):
    # given: another planner's page holds the first three recipients
    for _ in range(7):
        patient(organization)
    campaign = scheduled(make_campaign, approver)
    recipients = CampaignRecipient.objects.filter(campaign=campaign).order_by("pk")
    held = list(recipients.values_list("pk", flat=True)[:3])
    claimed, release = threading.Event(), threading.Event()

    def other_planner() -> None:
        try:
            with transaction.atomic():
                locks.shared(campaign.pk)
                list(
                    CampaignRecipient.objects.select_for_update()
                    .filter(pk__in=held)
                    .values_list("pk")
                )
                claimed.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_planner)
    thread.start()
    try:
        assert claimed.wait(10)
        # when: this planner runs beside it
        planned = campaign_plan_due(
            campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS, page_size=2
        )
        # then: it planned the others, skipped the held ones, and the campaign
        # is not done while they are pending
        assert planned == 4
        assert set(
            recipients.filter(status="pending").values_list("pk", flat=True)
        ) == set(held)
        campaign.refresh_from_db()
        assert campaign.status == "sending"
        # and a pause cannot start while a page is in progress
        with transaction.atomic():
            assert not locks.try_exclusive(campaign.pk)
    finally:
        release.set()
        thread.join()
    # when: the next planner comes (the held page was given up)
    assert (
        campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS, page_size=2)
        == 3
    )
    # then
    assert statuses(campaign) == {"planned": 7}
    # Done once their deliveries are out too (sent already where the pages
    # committed, the test being transactional on PostgreSQL).
    deliveries_process(list(Delivery.objects.values_list("pk", flat=True)))
    campaign_plan_due(campaign_id=campaign.pk, now=WEEKDAY_NOON_PARIS, page_size=2)
    campaign.refresh_from_db()
    assert campaign.status == "done"
    assert Message.objects.filter(origin_ref=campaign.origin_ref).count() == 7


def test_a_large_campaign_queues_a_planner_for_each_other_worker(
    make_campaign, approver, organization, monkeypatch, settings
):
    # given: enough due for three pages, and a cluster of three workers

    for _ in range(5):
        patient(organization)
    campaign = scheduled(make_campaign, approver)
    monkeypatch.setattr(planner, "SHARED_PAGE_MIN", 1)
    settings.CAMPAIGNS_PLANNERS = 3
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args)
    )
    # when
    planned = campaigns_plan_due(WEEKDAY_NOON_PARIS)
    planners = [args for args in queued if args[0] == "campaigns.tasks.campaign_plan"]
    # then: two planner tasks queued where pages may be shared; this worker
    # planned all the same (nobody took them here)
    assert planned == 5
    if planner._shared(None):
        # pages of two, so that each planner has one
        assert (
            planners
            == [("campaigns.tasks.campaign_plan", campaign.pk, WEEKDAY_NOON_PARIS, 2)]
            * 2
        )
    else:
        assert not planners
