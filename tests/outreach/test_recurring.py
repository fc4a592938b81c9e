"""Recurring care reminders: rules in the patient's time zone, an end date and a
pause, each occurrence sent once, and the label only in the secure inbox."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine

from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import translation

from clinic.services import patient_save
from core import scheduler
from messaging.models import Delivery, Message
from outreach.recurring import services as recurring
from outreach.recurring.models import CareSchedule
from outreach.recurring.services import (
    care_schedule_create,
    care_schedule_pause,
    care_schedule_resume,
    care_schedules_send_due,
)
from tests.clinic.factories import OrganizationFactory, PatientFactory
from tests.consent.factories import TopicFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
LABEL = "Metformin 500 mg"


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.fixture
def patient(organization):
    return patient_save(
        patient=PatientFactory.build(organization=organization, phone="+33612345678")
    )


@pytest.fixture
def topic(organization):
    return TopicFactory(
        organization=organization,
        slug="prescriptions",
        channels=["inapp", "email", "sms"],
    )


@pytest.fixture(autouse=True)
def _in_english():
    """Messages are checked in English, whatever an earlier test activated."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _deliver_on_commit(on_commit_at_once):
    """The test's transaction never commits: run the delivery task at once."""


def daily_at_eight(patient, topic, start, **fields):
    return care_schedule_create(
        patient=patient,
        topic=topic,
        label=LABEL,
        rule=fields.pop("rule", "FREQ=DAILY"),
        start_date=start,
        start_time=datetime.time(8, 0),
        now=fields.pop("now", utc(2000, 1, 1)),
        **fields,
    )


def occurrences(schedule, after, count):
    found = []
    for instant in recurring.occurrences_after(schedule, after):
        found.append(instant)
        if len(found) == count:
            return found
    return found


# Daylight saving


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        (  # Paris: summer time starts on 29 March, ends on 25 October 2026
            "Europe/Paris",
            datetime.date(2026, 3, 28),
            [utc(2026, 3, 28, 7), utc(2026, 3, 29, 6), utc(2026, 3, 30, 6)],
        ),
        (
            "Europe/Paris",
            datetime.date(2026, 10, 24),
            [utc(2026, 10, 24, 6), utc(2026, 10, 25, 7), utc(2026, 10, 26, 7)],
        ),
        (  # New York: 8 March and 1 November 2026
            "America/New_York",
            datetime.date(2026, 3, 7),
            [utc(2026, 3, 7, 13), utc(2026, 3, 8, 12), utc(2026, 3, 9, 12)],
        ),
        (
            "America/New_York",
            datetime.date(2026, 10, 31),
            [utc(2026, 10, 31, 12), utc(2026, 11, 1, 13), utc(2026, 11, 2, 13)],
        ),
    ],
)
def test_daily_eight_stays_eight_local_across_daylight_saving(
    organization, topic, zone, start, expected
):
    # given
    patient = patient_save(
        patient=PatientFactory.build(organization=organization, time_zone=zone)
    )
    schedule = daily_at_eight(patient, topic, start)
    # when
    found = occurrences(schedule, utc(2000, 1, 1), 3)
    # then: the UTC instants move by an hour, the patient's clock does not
    assert found == expected
    local = [f.astimezone(zoneinfo.ZoneInfo(zone)) for f in found]
    assert {(t.hour, t.minute) for t in local} == {(8, 0)}
    assert schedule.next_due_at == expected[0]


def test_the_finder_sends_at_eight_local_through_the_paris_spring_change(
    organization, patient, topic
):
    # given
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 28))
    sent_at = []
    # when: the scheduler runs at each due moment
    for _day in range(3):
        due = schedule.next_due_at
        with time_machine.travel(due, tick=False):
            assert care_schedules_send_due(due) == 1
        sent_at.append(due)
        schedule.refresh_from_db()
    # then
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert [t.astimezone(paris).hour for t in sent_at] == [8, 8, 8]
    assert sent_at[1] - sent_at[0] == datetime.timedelta(hours=23)
    keys = sorted(Message.objects.values_list("idempotency_key", flat=True))
    assert keys == [f"care:{schedule.pk}:{t.isoformat()}" for t in sent_at]


def test_several_times_a_day_in_the_patients_zone(organization, topic):
    patient = patient_save(
        patient=PatientFactory.build(
            organization=organization, time_zone="America/New_York"
        )
    )
    schedule = daily_at_eight(
        patient,
        topic,
        datetime.date(2026, 3, 7),
        rule="RRULE:FREQ=DAILY;BYHOUR=8,20;BYMINUTE=0",
    )
    assert occurrences(schedule, utc(2000, 1, 1), 3) == [
        utc(2026, 3, 7, 13),
        utc(2026, 3, 8, 1),
        utc(2026, 3, 8, 12),
    ]


# Validation


@pytest.mark.parametrize(
    ("rule", "until", "message"),
    [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", None, "never fires"),
        # Sundays only, from a Monday to the Friday after it.
        ("FREQ=WEEKLY;BYDAY=SU", datetime.date(2026, 3, 6), "never fires"),
        ("FREQ=DAILY;COUNT=0", None, "never fires"),
        ("FREQ=SOMETIMES", None, "not a valid recurrence rule"),
        ("FREQ=MINUTELY", None, "every hour"),
        ("DTSTART:20260101T080000\nRRULE:FREQ=DAILY", None, "one RRULE only"),
        ("", None, "cannot be blank"),
    ],
)
def test_a_rule_that_cannot_be_used_is_refused_clearly(
    patient, topic, rule, until, message
):
    with pytest.raises(ValidationError) as refused:
        daily_at_eight(
            patient, topic, datetime.date(2026, 3, 2), rule=rule, until=until
        )
    assert message in str(refused.value)
    assert not CareSchedule.objects.exists()


def test_an_end_date_before_the_start_is_refused(patient, topic):
    with pytest.raises(ValidationError) as refused:
        daily_at_eight(
            patient, topic, datetime.date(2026, 3, 2), until=datetime.date(2026, 3, 1)
        )
    assert "The end date is before the start." in str(refused.value)


def test_only_a_care_topic_of_the_organization(organization, patient):
    marketing = TopicFactory(organization=organization, purpose="marketing")
    with pytest.raises(ValidationError, match="care topic"):
        daily_at_eight(patient, marketing, datetime.date(2026, 3, 2))
    foreign = TopicFactory(organization=OrganizationFactory(slug="elsewhere"))
    with pytest.raises(ValidationError, match="another organization"):
        daily_at_eight(patient, foreign, datetime.date(2026, 3, 2))


# End date and pause


def test_it_ends_after_its_end_date(patient, topic):
    schedule = daily_at_eight(
        patient, topic, datetime.date(2026, 3, 2), until=datetime.date(2026, 3, 3)
    )
    assert occurrences(schedule, utc(2000, 1, 1), 5) == [
        utc(2026, 3, 2, 7),
        utc(2026, 3, 3, 7),
    ]
    for now in (utc(2026, 3, 2, 7), utc(2026, 3, 3, 7)):
        care_schedules_send_due(now)
    schedule.refresh_from_db()
    assert schedule.next_due_at is None
    assert care_schedules_send_due(utc(2026, 3, 10, 7)) == 0
    assert Message.objects.count() == 2


def test_a_paused_schedule_sends_nothing_and_resumes_without_the_missed(patient, topic):
    # given
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 2))
    care_schedule_pause(schedule=schedule)
    # when: three days pass
    assert care_schedules_send_due(utc(2026, 3, 4, 12)) == 0
    care_schedule_resume(schedule=schedule, now=utc(2026, 3, 4, 12))
    # then: nothing missed is sent; the next one is tomorrow at 08:00
    assert care_schedules_send_due(utc(2026, 3, 4, 12)) == 0
    schedule.refresh_from_db()
    assert schedule.next_due_at == utc(2026, 3, 5, 7)
    assert Message.objects.count() == 0


def test_paused_until_skips_the_occurrences_before_it(patient, topic):
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 2))
    care_schedule_pause(schedule=schedule, until=utc(2026, 3, 3, 12))
    assert care_schedules_send_due(utc(2026, 3, 2, 7)) == 0
    assert care_schedules_send_due(utc(2026, 3, 3, 7)) == 0
    assert care_schedules_send_due(utc(2026, 3, 4, 7)) == 1
    assert Message.objects.get().idempotency_key.endswith("2026-03-04T07:00:00+00:00")


# Sending once


def test_after_downtime_only_the_latest_missed_occurrence_is_sent(patient, topic):
    # given: the scheduler did not run for three days
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 2))
    # when
    assert care_schedules_send_due(utc(2026, 3, 5, 9)) == 1
    # then
    message = Message.objects.get()
    assert message.idempotency_key == f"care:{schedule.pk}:2026-03-05T07:00:00+00:00"
    schedule.refresh_from_db()
    assert schedule.next_due_at == utc(2026, 3, 6, 7)
    assert schedule.last_occurrence_at == utc(2026, 3, 5, 7)


def test_a_rerun_sends_nothing_twice(patient, topic):
    # given
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 2))
    now = utc(2026, 3, 2, 7, 1)
    care_schedules_send_due(now)
    # when: run again, and even with the schedule put back by hand
    care_schedules_send_due(now)
    CareSchedule.objects.filter(pk=schedule.pk).update(next_due_at=utc(2026, 3, 2, 7))
    care_schedules_send_due(now)
    # then
    assert Message.objects.count() == 1
    assert Delivery.objects.filter(channel="inapp").count() == 1


def test_a_failing_send_moves_on_and_logs_no_health_data(
    patient, topic, monkeypatch, caplog
):
    schedule = daily_at_eight(patient, topic, datetime.date(2026, 3, 2))

    def broken(**kwargs):
        raise RuntimeError("provider down")

    monkeypatch.setattr("outreach.recurring.services.message_send", broken)
    assert care_schedules_send_due(utc(2026, 3, 2, 7)) == 0
    schedule.refresh_from_db()
    assert schedule.next_due_at == utc(2026, 3, 3, 7)
    assert LABEL not in caplog.text


def test_the_finder_is_registered_with_the_scheduler():
    assert scheduler._finders["recurring"] is care_schedules_send_due


# Health data


@pytest.mark.parametrize("external", ["email", "sms"])
def test_the_label_is_only_in_the_inbox(
    organization, patient, external, sms_outbox_recurring
):
    # given
    topic = TopicFactory(
        organization=organization, slug=f"rx-{external}", channels=["inapp", external]
    )
    daily_at_eight(patient, topic, datetime.date(2026, 3, 10))
    # when: at 08:00 in Paris, outside quiet hours
    with time_machine.travel(utc(2026, 3, 10, 7), tick=False):
        care_schedules_send_due(utc(2026, 3, 10, 7))
    # then
    message = Message.objects.get()
    assert LABEL in message.body
    assert message.sensitivity == "confidential"
    delivery = message.deliveries.get(channel=external)
    assert delivery.status == "sent"
    assert message.authenticity_code in delivery.body
    for delivery in message.deliveries.all():
        assert LABEL not in delivery.body
        assert LABEL not in delivery.subject
    sent = [m.body + m.subject for m in mail.outbox] + [
        str(s) for s in sms_outbox_recurring
    ]
    assert sent
    assert all(LABEL not in text for text in sent)
    assert all("Metformin" not in text for text in sent)


@pytest.fixture
def sms_outbox_recurring():
    from messaging.backends import locmem

    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


# Admin


def test_admin_refuses_a_rule_that_never_fires(client, superuser, patient, topic):
    client.force_login(superuser)
    data = {
        "organization": patient.organization_id,
        "patient": patient.pk,
        "topic": topic.pk,
        "label": LABEL,
        "rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "start_date": "2026-03-02",
        "start_time": "08:00",
    }
    url = reverse("admin:outreach_careschedule_add")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "never fires" in response.text
    data["rule"] = "FREQ=DAILY"
    assert client.post(url, data).status_code == 302
    assert CareSchedule.objects.get().next_due_at is not None


# Concurrency, on PostgreSQL


@pytest.mark.django_db(transaction=True)
def test_two_finders_at_once_plan_each_reminder_once(organization, topic):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL; SQLite serialises writers")
    # given
    for n in range(30):
        patient = patient_save(
            patient=PatientFactory.build(organization=organization, identifier=f"C{n}")
        )
        daily_at_eight(patient, topic, datetime.date(2026, 3, 2))
    now = utc(2026, 3, 2, 7, 1)
    barrier = threading.Barrier(2)
    planned = []
    original = recurring._plan_one

    def slow_plan_one(schedule, now):
        result = original(schedule, now)
        threading.Event().wait(0.01)  # hold the row locks a little
        return result

    recurring._plan_one = slow_plan_one

    def run():
        try:
            barrier.wait()
            planned.append(care_schedules_send_due(now))
        finally:
            connection.close()

    # when
    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        recurring._plan_one = original
    # then
    assert sum(planned) == 30
    assert Message.objects.count() == 30
    assert not CareSchedule.objects.filter(next_due_at__lte=now).exists()
