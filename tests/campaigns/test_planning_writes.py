"""What planning writes, beside the rows themselves: the recipients' links
kept by Django (no foreign-key constraint in the database), the delivery
tasks of a page queued all or none, consent's facts read once per page."""

import pytest

from campaigns.models import CampaignRecipient
from campaigns.planner import campaigns_plan_due
from campaigns.services import campaign_schedule
from clinic.models import Patient
from consent.errors import ConsentError
from consent.facts import PageFacts, patient_fact_rows
from messaging.models import Delivery, Message
from messaging.services.bulk import message_send_many
from tests.campaigns.conftest import move, patient
from tests.support.clock import WEEKDAY_NOON_PARIS

pytestmark = pytest.mark.django_db


def test_recipients_follow_their_patient_campaign_and_message(
    make_campaign, approver, organization
):
    """The database no longer checks the recipients' relations; Django still
    cascades and nulls them."""
    # given: a campaign planned for two patients
    kept, removed = patient(organization), patient(organization, opted_in=False)
    campaign = move(make_campaign(), "approved")
    campaign_schedule(campaign=campaign, user=approver)
    campaigns_plan_due(WEEKDAY_NOON_PARIS)
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    message = recipients.get(patient=kept).message
    # when
    Message.objects.filter(pk=message.pk).delete()
    Patient.objects.filter(pk=removed.pk).delete()
    # then
    assert list(recipients.values_list("patient_id", "message_id")) == [(kept.pk, None)]
    campaign.delete()
    assert not CampaignRecipient.objects.exists()


def _page(organization, topic):
    patients = [patient(organization) for _ in range(3)]
    patients.append(patient(organization, opted_in=False, email=""))
    return Patient.objects.filter(pk__in=[p.pk for p in patients])


@pytest.fixture
def broker(monkeypatch, settings):
    """The ORM broker as a cluster uses it (the tests run tasks at once)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    settings.MESSAGING_DELIVERY_BATCH = 2


def test_a_pages_delivery_tasks_are_the_batches_of_its_queued_deliveries(
    organization, topic, broker, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    # given
    page = _page(organization, topic)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        message_send_many(
            patients=page, topic=topic, origin="campaign", at=WEEKDAY_NOON_PARIS
        )
    # then
    queued = sorted(
        Delivery.objects.filter(status=Delivery.Status.QUEUED).values_list(
            "pk", flat=True
        )
    )
    tasks = [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("pk")]
    assert {task["func"] for task in tasks} == {"messaging.tasks.deliveries_process"}
    assert [len(task["args"][0]) for task in tasks] == [
        len(queued[start : start + 2]) for start in range(0, len(queued), 2)
    ]
    assert sorted(pk for task in tasks for pk in task["args"][0]) == queued


def test_a_pages_delivery_tasks_are_queued_all_or_none(
    organization, topic, broker, monkeypatch, django_capture_on_commit_callbacks
):
    """Written in one transaction: a broker failing half-way leaves no task,
    and the deliveries queued for ``deliveries_requeue_due``."""
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    # given: a broker that fails on the second task
    page = _page(organization, topic)
    written = []
    enqueue = ORM.enqueue

    def failing(self, task):
        if written:
            raise ConnectionError("broker gone")
        written.append(task)
        return enqueue(self, task)

    monkeypatch.setattr(ORM, "enqueue", failing)
    # when
    with (
        pytest.raises(ConnectionError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message_send_many(
            patients=page, topic=topic, origin="campaign", at=WEEKDAY_NOON_PARIS
        )
    # then
    assert len(written) == 1
    assert not OrmQ.objects.exists()
    assert Delivery.objects.filter(status=Delivery.Status.QUEUED).count() > 2


def test_page_facts_from_rows_read_by_the_caller(organization, topic):
    """A campaign page reads its patients once and hands consent the rows:
    the answers are those of ``PageFacts`` reading them itself."""
    # given
    page = _page(organization, topic)
    ids = sorted(page.values_list("pk", flat=True))
    rows = {row["id"]: row for row in patient_fact_rows(page, "given_name")}
    # when
    given = PageFacts(ids[1:], topic, topic.channels, WEEKDAY_NOON_PARIS, rows=rows)
    read = PageFacts(ids[1:], topic, topic.channels, WEEKDAY_NOON_PARIS)
    # then: extra rows are left alone, missing ones refused
    for channel in topic.channels:
        assert [given.decide(pk, channel) for pk in ids[1:]] == [
            read.decide(pk, channel) for pk in ids[1:]
        ]
    del rows[ids[-1]]
    with pytest.raises(ConsentError):
        PageFacts(ids, topic, topic.channels, WEEKDAY_NOON_PARIS, rows=rows)
