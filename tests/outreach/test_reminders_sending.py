"""The due finder sends each reminder once, never for a cancelled or past
appointment, and at the intended local time across daylight-saving changes."""

import datetime
import zoneinfo

import pytest
import time_machine

from clinic.appointments.actions import appointment_cancel, appointment_confirm
from clinic.models import Appointment
from core.scheduler import due_run
from messaging.backends import locmem
from messaging.models import Message
from outreach.reminders.models import Reminder
from outreach.reminders.planner import reminders_send_due
from tests.clinic.factories import OrganizationFactory
from tests.outreach.reminders_factories import (
    ReminderRuleFactory,
    book,
    reminder_topic,
    sms_patient,
)

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)  # 11:00 in Paris
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _deliver_on_commit(on_commit_at_once):
    """The test's transaction never commits: run the delivery task at once,
    as a worker would after the commit."""


@pytest.fixture
def sms_outbox():
    """What the locmem SMS and voice backends "sent" during the test."""
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def topic(organization):
    return reminder_topic(organization)


@pytest.fixture
def patient(organization):
    return sms_patient(organization)


def planned(appointment, offset="48h"):
    return Reminder.objects.get(appointment=appointment, offset=offset)


def test_a_due_reminder_is_sent_once_with_local_time_and_one_tap_links(
    organization, topic, patient, sms_outbox, settings
):
    # given: an appointment on 14 March at 15:30 in Paris, reminded 48h before
    ReminderRuleFactory(organization=organization, topic=topic, offsets="48h")
    with time_machine.travel(NOW, tick=False):
        appointment = book(
            patient, datetime.datetime(2026, 3, 14, 14, 30, tzinfo=datetime.UTC)
        )
    reminder = planned(appointment)
    # when: the scheduler runs just before, then at the due time, then again
    with time_machine.travel(reminder.due_at - datetime.timedelta(seconds=1)):
        assert due_run()["reminders"] == 0
    with time_machine.travel(reminder.due_at, tick=False):
        assert due_run()["reminders"] == 1
        assert due_run()["reminders"] == 0
    # then
    reminder.refresh_from_db()
    assert (reminder.status, reminder.sent_at) == ("sent", reminder.due_at)
    message = Message.objects.get()
    assert reminder.message == message
    assert (message.origin, message.idempotency_key) == (
        "reminder",
        f"reminder:{reminder.pk}",
    )
    [sms] = sms_outbox
    assert "RDV le 14/03/2026 à 15:30" in sms["body"]
    assert f"{settings.SITE_URL}/a/" in sms["body"]
    assert message.context["cancel_link"].startswith(f"{settings.SITE_URL}/a/")
    assert "consultation" not in sms["body"]  # the kind is clinical


def test_the_finder_never_sends_for_a_cancelled_or_past_appointment(
    organization, topic, patient, sms_outbox
):
    ReminderRuleFactory(organization=organization, topic=topic, offsets="48h")
    with time_machine.travel(NOW, tick=False):
        cancelled = book(patient, NOW + 5 * DAY)
        moved_past = book(patient, NOW + 6 * DAY)
    # given: changes that bypassed the services (a raw update, an import bug)
    Appointment.objects.filter(pk=cancelled.pk).update(status="cancelled")
    Appointment.objects.filter(pk=moved_past.pk).update(starts_at=NOW + 3 * DAY)
    # when
    with time_machine.travel(NOW + 5 * DAY, tick=False):
        sent = reminders_send_due()
    # then
    assert sent == 0
    assert sms_outbox == []
    assert planned(cancelled).reason == "appointment_cancelled"
    assert planned(moved_past).reason == "appointment_past"
    assert {r.status for r in Reminder.objects.all()} == {"cancelled"}


def test_cancelled_through_the_service_nothing_is_left_to_send(
    organization, topic, patient, sms_outbox
):
    ReminderRuleFactory(organization=organization, topic=topic, offsets="48h, 2h")
    with time_machine.travel(NOW, tick=False):
        appointment = book(patient, NOW + 5 * DAY)
        appointment_cancel(appointment=appointment)
    with time_machine.travel(NOW + 5 * DAY - HOUR, tick=False):
        assert reminders_send_due() == 0
    assert sms_outbox == []


def test_only_if_unconfirmed_goes_to_the_unconfirmed_only(
    organization, topic, sms_outbox
):
    ReminderRuleFactory(
        organization=organization, topic=topic, offsets="2h", only_if_unconfirmed=True
    )
    confirmed_patient = sms_patient(organization, phone="+33612345601")
    booked_patient = sms_patient(organization, phone="+33612345602")
    with time_machine.travel(NOW, tick=False):
        confirmed = book(confirmed_patient, NOW + 3 * DAY)
        booked = book(booked_patient, NOW + 3 * DAY)
    # confirmed behind the planner's back: the finder checks again
    Appointment.objects.filter(pk=confirmed.pk).update(status="confirmed")
    with time_machine.travel(NOW + 3 * DAY - 2 * HOUR, tick=False):
        assert reminders_send_due() == 1
    assert [s["to"] for s in sms_outbox] == ["+33612345602"]
    assert planned(confirmed, "2h").reason == "confirmed"
    assert planned(booked, "2h").status == "sent"


def test_confirming_through_the_service_skips_at_once(
    organization, topic, patient, sms_outbox
):
    ReminderRuleFactory(
        organization=organization, topic=topic, offsets="2h", only_if_unconfirmed=True
    )
    with time_machine.travel(NOW, tick=False):
        appointment = book(patient, NOW + 3 * DAY)
        appointment_confirm(appointment=appointment)
    assert planned(appointment, "2h").status == "skipped"
    with time_machine.travel(NOW + 3 * DAY - HOUR, tick=False):
        assert reminders_send_due() == 0


def test_a_finder_that_was_down_sends_only_the_latest_due_reminder(
    organization, topic, patient, sms_outbox
):
    ReminderRuleFactory(organization=organization, topic=topic, offsets="48h, 2h")
    with time_machine.travel(NOW, tick=False):
        appointment = book(patient, NOW + 5 * DAY)
    with time_machine.travel(NOW + 5 * DAY - HOUR, tick=False):
        assert reminders_send_due() == 1
    assert planned(appointment, "48h").reason == "superseded"
    assert planned(appointment, "2h").status == "sent"
    assert len(sms_outbox) == 1


def test_many_due_reminders_go_in_batches_each_once(organization, topic, sms_outbox):
    ReminderRuleFactory(organization=organization, topic=topic, offsets="48h")
    with time_machine.travel(NOW, tick=False):
        for n in range(7):
            book(sms_patient(organization, phone=f"+336123456{n:02d}"), NOW + 5 * DAY)
    with time_machine.travel(NOW + 4 * DAY, tick=False):
        assert reminders_send_due(batch_size=3) == 7
        assert reminders_send_due(batch_size=3) == 0
    assert len(sms_outbox) == 7
    assert Message.objects.count() == 7


def test_a_rule_limited_to_one_channel_uses_it_and_the_inbox(
    organization, topic, patient, sms_outbox
):
    ReminderRuleFactory(
        organization=organization, topic=topic, offsets="48h", channel="voice"
    )
    with time_machine.travel(NOW, tick=False):
        appointment = book(patient, NOW + 5 * DAY)
    with time_machine.travel(NOW + 4 * DAY, tick=False):
        reminders_send_due()
    message = planned(appointment).message
    assert set(message.deliveries.values_list("channel", flat=True)) == {
        "inapp",
        "voice",
    }


# Appointments at 10:00 local time on the days daylight-saving time starts
# and ends (2026), and when each offset must fire, in local time.
DST_DAYS = [
    ("Europe/Paris", "fr", datetime.date(2026, 3, 29)),
    ("Europe/Paris", "fr", datetime.date(2026, 10, 25)),
    ("America/New_York", "en", datetime.date(2026, 3, 8)),
    ("America/New_York", "en", datetime.date(2026, 11, 1)),
]
SPRING = {datetime.date(2026, 3, 29), datetime.date(2026, 3, 8)}


def _expected_local(offset: str, day: datetime.date) -> datetime.datetime:
    """What "the intended local time" means for each kind of offset: the
    clock kind keeps its wall-clock time; a duration is real hours, so 48 h
    before 10:00 reads 09:00 (spring) or 11:00 (autumn) on the old clock."""
    expected = {
        "1d@18:00": (day - DAY, datetime.time(18, 0)),
        "0d@08:00": (day, datetime.time(8, 0)),
        "2h": (day, datetime.time(8, 0)),
        "48h": (day - 2 * DAY, datetime.time(9 if day in SPRING else 11, 0)),
    }[offset]
    return datetime.datetime.combine(*expected)


@pytest.mark.parametrize(("zone", "language", "day"), DST_DAYS)
@pytest.mark.parametrize("offset", ["1d@18:00", "0d@08:00", "2h", "48h"])
def test_reminders_fire_at_the_intended_local_time_across_dst(
    zone, language, day, offset, sms_outbox
):
    # given
    organization = OrganizationFactory(
        slug=f"org-{zone.lower().replace('/', '-')}",
        time_zone=zone,
        default_language=language,
    )
    topic = reminder_topic(organization)
    ReminderRuleFactory(organization=organization, topic=topic, offsets=offset)
    patient = sms_patient(organization, phone="+33612345678")
    tz = zoneinfo.ZoneInfo(zone)
    starts_at = datetime.datetime.combine(day, datetime.time(10, 0), tz)
    with time_machine.travel(
        datetime.datetime.combine(day - 10 * DAY, datetime.time(12), tz), tick=False
    ):
        appointment = book(patient, starts_at)
    reminder = planned(appointment, offset)
    # then: due at the intended local time
    assert reminder.due_at.astimezone(tz).replace(tzinfo=None) == _expected_local(
        offset, day
    )
    # and the finder fires then, not a minute before
    with time_machine.travel(reminder.due_at - datetime.timedelta(minutes=1)):
        assert reminders_send_due() == 0
    with time_machine.travel(reminder.due_at, tick=False):
        assert reminders_send_due() == 1
    shown = Message.objects.get().context["appointment_time"]
    assert shown == ("10:00" if language == "fr" else "10 a.m.")
