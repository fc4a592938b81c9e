"""Storage limitation: the nightly purge deletes each data class's rows past
its period, in batches, across the boundary to the second, and keeps the
consent ledger and what is still within its period."""

import datetime

import pytest
import time_machine
from django_q.models import Schedule

from django.core.management import call_command

from clinic.models import AccessAudit
from clinic.services import access_audit_record
from consent.models import ConsentEvent
from consent.services import consent_grant
from core.retention import purge_class, purge_expired, retention_classes
from messaging.models import Message, OutboxEntry, StatusCallback
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 7, 3, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def _classes():
    return {data_class.name: data_class for data_class in retention_classes()}


def _callback(at):
    with time_machine.travel(at, tick=False):
        return StatusCallback.objects.create(
            provider="twilio", provider_id=f"SM{at}", status="delivered"
        )


def test_every_data_class_the_issue_names_is_registered():
    assert {
        "security_messages",
        "provider_callbacks",
        "inbound_receipts",
        "webhook_deliveries",
        "access_audit",
        "task_results",
        "outbox",
    } <= set(_classes())


def test_rows_just_past_the_period_go_and_rows_just_within_it_stay():
    # given: callbacks on each side of the 30-day boundary
    cutoff = NOW - 30 * DAY
    gone = _callback(cutoff - SECOND)
    kept = _callback(cutoff + SECOND)
    # when
    deleted = purge_class(_classes()["provider_callbacks"], now=NOW)
    # then
    assert deleted == 1
    assert list(StatusCallback.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not StatusCallback.objects.filter(pk=gone.pk).exists()


def test_a_setting_changes_a_period(settings):
    settings.RETENTION_DAYS = {"provider_callbacks": 7}
    _callback(NOW - 8 * DAY)
    kept = _callback(NOW - 6 * DAY)
    assert purge_class(_classes()["provider_callbacks"], now=NOW) == 1
    assert list(StatusCallback.objects.values_list("pk", flat=True)) == [kept.pk]


def test_batches_delete_everything_in_small_transactions(django_assert_max_num_queries):
    for index in range(5):
        _callback(NOW - 40 * DAY - index * SECOND)
    deleted = purge_class(_classes()["provider_callbacks"], now=NOW, batch=2)
    assert deleted == 5
    assert StatusCallback.objects.count() == 0


def test_security_messages_go_with_their_deliveries_and_care_messages_stay(
    organization,
):
    patient = PatientFactory(organization=organization)
    security = TopicFactory(organization=organization, slug="codes", purpose="security")
    care = TopicFactory(organization=organization, slug="care", purpose="care")
    old = NOW - 91 * DAY
    for topic in (security, care):
        message = Message.objects.create(
            organization=organization,
            patient=patient,
            topic=topic,
            origin="system",
            sensitivity="public",
            language="fr",
            body="Code 123456",
            created_at=old,
        )
        message.deliveries.create(channel="sms", status="sent")
    purge_expired(now=NOW)
    assert list(Message.objects.values_list("topic__slug", flat=True)) == ["care"]


def test_the_access_audit_is_kept_six_years_and_the_ledger_is_never_purged(
    organization,
):
    patient = PatientFactory(organization=organization)
    topic = TopicFactory(organization=organization, slug="news", purpose="marketing")
    with time_machine.travel(NOW - 7 * 365 * DAY, tick=False):
        consent_grant(patient=patient, topic=topic, channel="sms", source="portal")
        access_audit_record(patient=patient, action="view_record", actor_label="Old")
    with time_machine.travel(NOW - 5 * 365 * DAY, tick=False):
        access_audit_record(patient=patient, action="view_record", actor_label="Recent")
    purge_expired(now=NOW)
    assert list(AccessAudit.objects.values_list("actor_label", flat=True)) == ["Recent"]
    assert ConsentEvent.objects.filter(patient=patient).count() == 1


def test_the_command_counts_then_purges(capsys):
    OutboxEntry.objects.create(channel="sms", to="+33600000000", body="x")
    OutboxEntry.objects.filter().update(created_at=NOW - 60 * DAY)
    with time_machine.travel(NOW, tick=False):
        call_command("purge_expired", "--dry-run")
        assert "outbox: 1 past 30 days" in capsys.readouterr().out
        assert OutboxEntry.objects.count() == 1
        call_command("purge_expired")
    assert "outbox: 1 deleted" in capsys.readouterr().out
    assert OutboxEntry.objects.count() == 0


def test_the_purge_runs_every_night():
    schedule = Schedule.objects.get(name="retention: nightly purge")
    assert (schedule.func, schedule.schedule_type) == (
        "core.retention.purge_expired",
        "D",
    )
