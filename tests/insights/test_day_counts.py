"""The per-day counts PostgreSQL keeps for the dashboard follow every write to
messages and deliveries, stay exact when folded, and a period that does not
start or end at UTC midnight counts its edges from the rows."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from django.core.management import CommandError, call_command
from django.db import connection

from insights import day_counts, kpis
from insights.kpis import deliveries
from insights.models import DeliveryDayCount, MessageDayCount
from messaging.models import Delivery, Message
from tests.clinic.factories import PatientFactory
from tests.insights.builders import delivery, message, topic

UTC = datetime.UTC
PARIS = ZoneInfo("Europe/Paris")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"
)


def at(*args, zone=UTC) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=zone)


# --- Whole UTC days and edges (no database) ---------------------------------------


def test_a_period_from_utc_midnight_to_utc_midnight_is_whole_days():
    days = day_counts.split(at(2026, 3, 1), at(2026, 4, 1))

    assert (days.first_day, days.stop_day) == (
        datetime.date(2026, 3, 1),
        datetime.date(2026, 4, 1),
    )
    assert days.edges == ()


def test_a_period_in_paris_counts_its_first_and_last_hours_from_the_rows():
    # 1 March 00:00 Paris = 28 Feb 23:00 UTC; 1 April 00:00 Paris (summer
    # time since 29 March) = 31 March 22:00 UTC.
    days = day_counts.split(at(2026, 3, 1, zone=PARIS), at(2026, 4, 1, zone=PARIS))

    assert (days.first_day, days.stop_day) == (
        datetime.date(2026, 3, 1),
        datetime.date(2026, 3, 31),
    )
    assert days.edges == (
        (at(2026, 3, 1, zone=PARIS), at(2026, 3, 1)),
        (at(2026, 3, 31), at(2026, 4, 1, zone=PARIS)),
    )


def test_a_period_inside_one_day_is_all_edge():
    start, end = at(2026, 3, 1, 8), at(2026, 3, 1, 20)

    days = day_counts.split(start, end)

    assert days.first_day is None
    assert days.edges == ((start, end),)
    assert day_counts.split(end, end).edges == ()


# --- The figures, whichever way they are counted ----------------------------------


@pytest.mark.django_db
def test_messages_and_deliveries_at_a_paris_periods_edges(organization):
    """Period: March in Paris. Hand count, outbound messages of the period:
    00:30 Paris on 1 March (23:30 UTC the day before), 10 March, and 23:30
    Paris on 31 March (21:30 UTC): 3, one of them read. Outside: 23:30 Paris
    on 28 February and 00:30 Paris on 1 April. Inbound messages never count."""
    patient = PatientFactory(organization=organization)
    news = topic(organization, "news")
    inside = [
        message(patient, news, created_at=at(2026, 2, 28, 23, 30)),
        message(patient, news, created_at=at(2026, 3, 10, 9), read_at=at(2026, 3, 11)),
        message(patient, news, created_at=at(2026, 3, 31, 21, 30)),
    ]
    message(patient, news, created_at=at(2026, 2, 28, 22, 30))
    late = message(patient, news, created_at=at(2026, 3, 31, 22, 30))
    message(patient, news, created_at=at(2026, 3, 10, 9), direction="in")
    for m in inside:
        delivery(m, "sms", "delivered")
    delivery(inside[0], "email", "failed")
    delivery(late, "sms", "delivered")
    scope = kpis.Scope(
        organization=organization,
        start=at(2026, 3, 1, zone=PARIS),
        end=at(2026, 4, 1, zone=PARIS),
    )

    by_topic = deliveries.messages_by_topic(scope)
    by_status = deliveries.deliveries_by_channel_status(scope)

    assert by_topic == {news.pk: {"topic_id": news.pk, "n": 3, "read": 1}}
    assert by_status == {("sms", "delivered"): 3, ("email", "failed"): 1}
    rates = {f.key: f for f in deliveries.delivery_and_read_rates(scope)}
    assert (
        rates["delivery_rate.sms"].numerator,
        rates["delivery_rate.sms"].denominator,
    ) == (3, 3)
    assert rates["delivery_rate.sms"].rows.count() == 3


# --- What the triggers keep (PostgreSQL) ------------------------------------------


def _kept_messages(organization) -> dict:
    totals = {}
    for row in MessageDayCount.objects.filter(organization=organization):
        key = (row.day, row.topic_id)
        sent, read = totals.get(key, (0, 0))
        totals[key] = (sent + row.sent, read + row.read)
    return {key: value for key, value in totals.items() if value != (0, 0)}


def _kept_deliveries(organization) -> dict:
    totals = {}
    for row in DeliveryDayCount.objects.filter(organization=organization):
        key = (row.day, row.channel, row.status)
        totals[key] = totals.get(key, 0) + row.deliveries
    return {key: n for key, n in totals.items() if n}


@on_postgresql
@pytest.mark.django_db
def test_the_counts_follow_inserts_updates_and_deletes(organization):
    patient = PatientFactory(organization=organization)
    news, recalls = topic(organization, "news"), topic(organization, "recalls")
    march_1, march_2 = datetime.date(2026, 3, 1), datetime.date(2026, 3, 2)
    # inserted one by one, in bulk, inbound (not counted)
    first = message(patient, news, created_at=at(2026, 3, 1, 9))
    second = message(patient, news, created_at=at(2026, 3, 1, 23, 59))
    third = message(patient, recalls, created_at=at(2026, 3, 2, 0, 1))
    message(patient, news, created_at=at(2026, 3, 1, 10), direction="in")
    for m in (first, second, third):
        delivery(m, "sms", "queued")
    assert _kept_messages(organization) == {
        (march_1, news.pk): (2, 0),
        (march_2, recalls.pk): (1, 0),
    }
    assert _kept_deliveries(organization) == {
        (march_1, "sms", "queued"): 2,
        (march_2, "sms", "queued"): 1,
    }

    # when: read, status moved forward in one statement, one message deleted
    Message.objects.filter(pk=second.pk).update(read_at=at(2026, 3, 3))
    Delivery.objects.filter(message__in=[first, second]).update(status="delivered")
    Delivery.objects.filter(message=third).update(provider_id="x")  # no change
    third.delete()  # its delivery first (Django's cascade), then the message

    # then
    assert _kept_messages(organization) == {(march_1, news.pk): (2, 1)}
    assert _kept_deliveries(organization) == {(march_1, "sms", "delivered"): 2}
    assert day_counts.differences() == []


@on_postgresql
@pytest.mark.django_db
def test_folding_leaves_one_row_per_group_and_the_same_sums(organization):
    patient = PatientFactory(organization=organization)
    news = topic(organization, "news")
    for hour in range(5):
        delivery(message(patient, news, created_at=at(2026, 3, 1, hour)), "sms", "sent")
    Delivery.objects.filter(message__organization=organization).update(status="read")
    before = (_kept_messages(organization), _kept_deliveries(organization))
    assert MessageDayCount.objects.filter(organization=organization).count() == 5

    written = day_counts.compact()

    assert (_kept_messages(organization), _kept_deliveries(organization)) == before
    assert written == 2  # one message group, one delivery group ("sent" sums to 0)
    assert MessageDayCount.objects.filter(organization=organization).count() == 1
    assert not DeliveryDayCount.objects.filter(compacted=False).exists()
    assert day_counts.compact() == 0  # nothing new to fold


@on_postgresql
@pytest.mark.django_db
def test_the_command_finds_and_fixes_rows_written_without_the_triggers(
    organization,
):
    patient = PatientFactory(organization=organization)
    news = topic(organization, "news")
    message(patient, news, created_at=at(2026, 3, 1, 9))
    with connection.cursor() as cursor:  # as a restore with triggers disabled
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE messaging_message SET read_at = %s WHERE organization_id = %s",
            [at(2026, 3, 2), organization.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")

    call_command("rebuild_day_counts", "--dry-run", stdout=(out := _Out()))
    assert f"organization {organization.pk} 2026-03-01 topic {news.pk}" in out.text
    assert "read kept 0, counted 1" in out.text
    assert "nothing changed" in out.text
    call_command("rebuild_day_counts", stdout=(out := _Out()))
    assert "counted again" in out.text
    assert day_counts.differences() == []
    assert _kept_messages(organization) == {
        (datetime.date(2026, 3, 1), news.pk): (1, 1)
    }


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps none")
def test_the_command_says_sqlite_keeps_no_counts():
    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("rebuild_day_counts")


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass
