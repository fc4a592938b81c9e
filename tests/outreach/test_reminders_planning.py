"""Reminders follow their appointment at once: created, moved, cancelled."""

import datetime

import pytest
import time_machine

from django.core.exceptions import ValidationError

from clinic.appointments.actions import appointment_cancel, appointment_confirm
from clinic.services import appointment_save
from outreach.reminders.models import Reminder, ReminderRule
from outreach.reminders.services import reminder_rule_save
from tests.clinic.factories import OrganizationFactory, StaffMemberFactory
from tests.consent.factories import TopicFactory
from tests.outreach.reminders_factories import (
    ReminderRuleFactory,
    book,
    reminder_topic,
    sms_patient,
)

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def topic(organization):
    return reminder_topic(organization)


@pytest.fixture
def rule(organization, topic):
    return ReminderRuleFactory(
        organization=organization, topic=topic, offsets="48h, 2h"
    )


@pytest.fixture
def patient(organization):
    return sms_patient(organization)


def rows(appointment):
    return {
        r.offset: (r.status, r.reason, r.due_at)
        for r in Reminder.objects.filter(appointment=appointment)
    }


def test_booking_plans_one_pending_reminder_per_offset(rule, patient):
    # when
    appointment = book(patient, NOW + 5 * DAY)
    # then
    assert rows(appointment) == {
        "48h": ("pending", "", NOW + 3 * DAY),
        "2h": ("pending", "", NOW + 5 * DAY - 2 * HOUR),
    }


def test_moving_an_appointment_moves_its_pending_reminders(rule, patient):
    appointment = book(patient, NOW + 5 * DAY)
    # when
    appointment.starts_at = NOW + 10 * DAY
    appointment.ends_at = appointment.starts_at + HOUR
    appointment_save(appointment=appointment)
    # then
    assert rows(appointment)["48h"] == ("pending", "", NOW + 8 * DAY)
    assert Reminder.objects.count() == 2


def test_moving_closer_skips_what_is_already_too_late(rule, patient):
    appointment = book(patient, NOW + 5 * DAY)
    appointment.starts_at = NOW + DAY
    appointment.ends_at = appointment.starts_at + HOUR
    appointment_save(appointment=appointment)
    assert rows(appointment)["48h"][:2] == ("skipped", "too_late")
    assert rows(appointment)["2h"][:2] == ("pending", "")


def test_booking_late_records_why_the_early_reminders_are_skipped(rule, patient):
    appointment = book(patient, NOW + 3 * HOUR)
    assert rows(appointment)["48h"][:2] == ("skipped", "too_late")
    assert rows(appointment)["2h"][:2] == ("pending", "")


def test_cancelling_cancels_pending_reminders_and_never_touches_sent_ones(
    rule, patient
):
    appointment = book(patient, NOW + 5 * DAY)
    Reminder.objects.filter(offset="48h").update(status="sent")
    # when
    appointment_cancel(appointment=appointment)
    # then
    assert rows(appointment)["2h"][:2] == ("cancelled", "appointment_cancelled")
    assert rows(appointment)["48h"][0] == "sent"


def test_a_past_or_cancelled_appointment_gets_no_reminder(rule, patient):
    past = book(patient, NOW - HOUR)
    cancelled = book(patient, NOW + 5 * DAY, status="cancelled")
    assert rows(past) == {}
    assert rows(cancelled) == {}


def test_rebooking_a_cancelled_appointment_plans_again(rule, patient):
    appointment = book(patient, NOW + 5 * DAY)
    appointment_cancel(appointment=appointment)
    appointment.refresh_from_db()
    appointment.status = "booked"
    appointment_save(appointment=appointment)
    assert {s for s, _r, _d in rows(appointment).values()} == {"pending"}


def test_confirming_skips_reminders_of_rules_for_the_unconfirmed_only(
    organization, topic, patient
):
    ReminderRuleFactory(
        organization=organization, topic=topic, offsets="48h", name="always"
    )
    ReminderRuleFactory(
        organization=organization,
        topic=topic,
        offsets="2h",
        name="nudge",
        only_if_unconfirmed=True,
    )
    appointment = book(patient, NOW + 5 * DAY)
    # when
    appointment_confirm(appointment=appointment)
    # then
    assert rows(appointment)["48h"][:2] == ("pending", "")
    assert rows(appointment)["2h"][:2] == ("skipped", "confirmed")


def test_a_rule_for_one_kind_ignores_other_kinds(organization, topic, patient):
    ReminderRuleFactory(organization=organization, topic=topic, kind="Vaccination")
    vaccination = book(patient, NOW + 5 * DAY, kind="vaccination")
    consultation = book(patient, NOW + 6 * DAY, kind="consultation")
    assert set(rows(vaccination)) == {"48h"}
    assert rows(consultation) == {}
    # when the kind changes, the reminder goes
    vaccination.kind = "consultation"
    appointment_save(appointment=vaccination)
    assert rows(vaccination)["48h"][:2] == ("cancelled", "rule_changed")


def test_creating_a_rule_plans_future_appointments_page_by_page(
    organization, topic, patient
):
    appointments = [book(patient, NOW + (n + 1) * DAY) for n in range(5)]
    past = book(patient, NOW - DAY)
    # when
    reminder_rule_save(
        rule=ReminderRule(
            organization=organization, name="r", offsets="12h", topic=topic
        ),
        page_size=2,
    )
    # then
    assert Reminder.objects.filter(status="pending").count() == 5
    assert {r.appointment for r in Reminder.objects.all()} == set(appointments)
    assert rows(past) == {}


def test_editing_a_rule_moves_and_cancels_pending_ones_but_not_sent_ones(rule, patient):
    appointment = book(patient, NOW + 5 * DAY)
    Reminder.objects.filter(offset="2h").update(status="sent")
    # when: 48h becomes 24h, 2h stays
    rule.offsets = "1d, 2h"
    reminder_rule_save(rule=rule)
    # then
    assert rows(appointment)["48h"][:2] == ("cancelled", "rule_changed")
    assert rows(appointment)["1d"] == ("pending", "", NOW + 4 * DAY)
    assert rows(appointment)["2h"][0] == "sent"


def test_deactivating_a_rule_cancels_its_pending_reminders(rule, patient):
    appointment = book(patient, NOW + 5 * DAY)
    rule.is_active = False
    reminder_rule_save(rule=rule)
    assert {v[:2] for v in rows(appointment).values()} == {
        ("cancelled", "rule_inactive")
    }


def test_rules_need_a_care_topic_of_their_organization(organization, topic):
    marketing = TopicFactory(organization=organization, slug="m", purpose="marketing")
    other = TopicFactory(organization=OrganizationFactory(slug="x"), slug="care-x")
    for wrong in (marketing, other):
        with pytest.raises(ValidationError) as error:
            reminder_rule_save(
                rule=ReminderRule(
                    organization=organization, name="r", offsets="2h", topic=wrong
                )
            )
        assert "topic" in error.value.message_dict


def test_admin_save_of_a_rule_plans_at_once(client, organization, topic, patient):
    # given
    staff = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(staff.user)
    appointment = book(patient, NOW + 5 * DAY)
    # when
    response = client.post(
        "/admin/outreach/reminderrule/add/",
        {
            "organization": organization.pk,
            "name": "Reminders",
            "kind": "",
            "offsets": "7d, 48h, 1d@18:00",
            "topic": topic.pk,
            "channel": "",
            "is_active": "on",
        },
    )
    # then
    assert response.status_code == 302, response.content
    assert set(rows(appointment)) == {"48h", "1d@18:00"} | {"7d"}
    assert rows(appointment)["7d"][:2] == ("skipped", "too_late")
    assert rows(appointment)["1d@18:00"][2] == datetime.datetime(
        2026,
        3,
        14,
        17,
        0,
        tzinfo=datetime.UTC,  # 18:00 in Paris (UTC+1)
    )


def test_admin_refuses_an_offset_it_cannot_read(client, organization, topic):
    staff = StaffMemberFactory(organization=organization, role="admin")
    client.force_login(staff.user)
    response = client.post(
        "/admin/outreach/reminderrule/add/",
        {
            "organization": organization.pk,
            "name": "Reminders",
            "offsets": "48h, tomorrow",
            "topic": topic.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "tomorrow is not an offset" in response.content.decode()
    assert not ReminderRule.objects.exists()


def test_admin_moving_an_appointment_moves_its_reminders(
    client, organization, rule, patient
):
    staff = StaffMemberFactory(organization=organization, role="coordinator")
    client.force_login(staff.user)
    appointment = book(patient, NOW + 5 * DAY)
    new_start = NOW + 9 * DAY
    response = client.post(
        f"/admin/clinic/appointment/{appointment.pk}/change/",
        {
            "organization": organization.pk,
            "patient": patient.pk,
            "site": appointment.site_id,
            "kind": appointment.kind,
            "starts_at_0": "2026-03-19",
            # Admin reads times in the organization's zone: 11:00 in Paris
            # is new_start, 10:00 UTC.
            "starts_at_1": "11:00:00",
            "ends_at_0": "2026-03-19",
            "ends_at_1": "11:30:00",
            "status": "booked",
            "cancellation_reason": "",
            "external_id": "",
        },
    )
    assert response.status_code == 302, response.content
    assert rows(appointment)["48h"][2] == new_start - 2 * DAY


def test_staff_of_another_organization_cannot_see_a_rule(client, rule):
    other = StaffMemberFactory(organization=OrganizationFactory(slug="other"))
    client.force_login(other.user)
    assert (
        client.get(f"/admin/outreach/reminderrule/{rule.pk}/change/").status_code == 404
    )
    assert client.get("/admin/outreach/reminder/").status_code == 200
