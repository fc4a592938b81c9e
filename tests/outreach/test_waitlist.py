"""Waitlist and backfill: a cancelled slot goes to the waiting patients who
fit it; the first valid answer wins, the others are told; never twice."""

import datetime
import threading
import zoneinfo

import pytest
import time_machine

from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinic.appointments.actions import appointment_cancel
from clinic.models import Appointment
from clinic.services import patient_save
from messaging.models import Message
from outreach.waitlist.models import SlotOffer, SlotOfferRecipient, WaitlistEntry
from outreach.waitlist.services import (
    SlotGoneError,
    offer_token_make,
    slot_offer_reply,
    slot_offer_take,
    waitlist_join,
)
from tests.clinic.factories import (
    AppointmentFactory,
    PatientFactory,
    SiteFactory,
    UserFactory,
)
from tests.consent.factories import TopicFactory
from tests.messaging.factories import TemplateFactory

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NOW = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)  # a Monday, 10:00
SLOT = datetime.datetime(2026, 3, 5, 10, 0, tzinfo=PARIS)  # Thursday 10:00 Paris


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _run_on_commit(on_commit_at_once):
    """Callbacks after commit run at once (tests/conftest.py)."""


@pytest.fixture
def topic(organization):
    return TopicFactory(
        organization=organization,
        slug="appointment-reminders",
        channels=["inapp", "sms"],
    )


@pytest.fixture
def site(organization):
    return SiteFactory(organization=organization, name="Nord")


@pytest.fixture
def freed(organization, site, topic):
    """A booked appointment whose patient is about to cancel."""
    return AppointmentFactory(
        patient=PatientFactory(organization=organization),
        site=site,
        kind="vaccination",
        starts_at=SLOT,
        ends_at=SLOT + datetime.timedelta(minutes=20),
    )


def _waiting(organization, n=1, **fields):
    entries = []
    for _ in range(n):
        patient = patient_save(patient=PatientFactory.build(organization=organization))
        values = {
            "earliest": datetime.date(2026, 3, 2),
            "latest": datetime.date(2026, 3, 31),
        } | fields
        entries.append(waitlist_join(patient=patient, **values))
    return entries


def _texts(patient):
    return list(
        Message.objects.filter(patient=patient)
        .order_by("pk")
        .values_list("body", flat=True)
    )


def test_a_cancellation_offers_the_slot_to_matching_patients_first_come(
    organization, freed, site
):
    first, second = _waiting(organization, 2)
    other_site = _waiting(organization, 1, site=SiteFactory(organization=organization))
    wrong_kind = _waiting(organization, 1, kind="surgery")
    afternoon = _waiting(organization, 1, time_ranges=[["13:00", "18:00"]])
    appointment_cancel(appointment=freed)
    offer = SlotOffer.objects.get(freed=freed)
    offered = set(offer.recipients.values_list("entry_id", flat=True))
    assert offered == {first.pk, second.pk}
    assert not offered & {e.pk for e in other_site + wrong_kind + afternoon}
    [text] = _texts(first.patient)
    assert "OUI" in text
    assert "YES" in text
    assert "/w/" in text
    assert "vaccination" not in text  # the kind of visit is clinical


def test_a_retried_yes_takes_the_slot_once_and_answers_once(organization, freed):
    """The provider's retry of a YES (same message id) changes nothing more."""
    from messaging.inbound import inbound_sms_receive
    from messaging.models import InboundReceipt, SenderIdentity

    # given
    SenderIdentity.objects.create(
        organization=organization, provider="twilio", phone_number="+33700000001"
    )
    [entry] = _waiting(organization)
    appointment_cancel(appointment=freed)
    offered = _texts(entry.patient)
    # when
    results = [
        inbound_sms_receive(
            provider="twilio",
            to_number="+33700000001",
            from_number=str(entry.patient.phone),
            text="OUI",
            provider_message_id="SMyes",
        )
        for _ in range(2)
    ]
    # then
    assert [r.duplicate for r in results] == [False, True]
    assert Appointment.objects.filter(patient=entry.patient).count() == 1
    assert len(_texts(entry.patient)) == len(offered) + 1  # the confirmation
    assert InboundReceipt.objects.get().outcome == "answer"


def test_the_first_answer_wins_and_the_others_are_told(organization, freed):
    first, second = _waiting(organization, 2)
    appointment_cancel(appointment=freed)
    assert slot_offer_reply(patient=second.patient, text=" oui ")
    booked = Appointment.objects.get(patient=second.patient)
    assert (booked.starts_at, booked.site_id, booked.status) == (
        freed.starts_at,
        freed.site_id,
        Appointment.Status.CONFIRMED,
    )
    assert SlotOffer.objects.get().status == SlotOffer.Status.TAKEN
    second.refresh_from_db()
    assert second.status == WaitlistEntry.Status.SERVED
    assert len(_texts(first.patient)) == 2  # the offer, then "taken by someone"
    # a late answer is told it is gone, and books nothing
    assert slot_offer_reply(patient=first.patient, text="YES")
    assert not Appointment.objects.filter(patient=first.patient).exists()
    with pytest.raises(SlotGoneError):
        slot_offer_take(recipient=SlotOfferRecipient.objects.get(entry=first))


def test_the_one_tap_link_shows_then_takes(client, organization, freed):
    [entry] = _waiting(organization)
    appointment_cancel(appointment=freed)
    recipient = SlotOfferRecipient.objects.get(entry=entry)
    url = reverse("slot_offer", args=[offer_token_make(recipient)])
    assert client.get(url).status_code == 200  # a link scanner takes nothing
    assert not Appointment.objects.filter(patient=entry.patient).exists()
    client.post(url)
    assert Appointment.objects.filter(patient=entry.patient).exists()
    assert client.get(reverse("slot_offer", args=["forged"])).status_code == 404


def test_other_words_are_not_answers_and_nothing_is_offered_for_the_past(
    organization, site, topic
):
    [entry] = _waiting(organization)
    assert not slot_offer_reply(patient=entry.patient, text="YES")  # no offer
    past = AppointmentFactory(
        patient=PatientFactory(organization=organization),
        site=site,
        starts_at=NOW + datetime.timedelta(hours=1),
        ends_at=NOW + datetime.timedelta(hours=2),
    )
    with time_machine.travel(NOW + datetime.timedelta(hours=3), tick=False):
        Appointment.objects.filter(pk=past.pk).update(status="cancelled")
        from outreach.waitlist.services import slot_offer_open

        assert slot_offer_open(freed=past) is None


def test_a_patient_already_booked_then_is_not_offered(organization, freed, site):
    [busy] = _waiting(organization)
    AppointmentFactory(
        patient=busy.patient,
        site=site,
        starts_at=SLOT - datetime.timedelta(minutes=10),
        ends_at=SLOT + datetime.timedelta(minutes=10),
    )
    appointment_cancel(appointment=freed)
    assert not SlotOffer.objects.exists()


def test_bad_waitlist_input_is_refused_clearly(organization):
    patient = PatientFactory(organization=organization)
    with pytest.raises(ValidationError, match="end is before"):
        waitlist_join(
            patient=patient,
            earliest=datetime.date(2026, 3, 9),
            latest=datetime.date(2026, 3, 2),
        )
    with pytest.raises(ValidationError, match="a start and an end"):
        waitlist_join(
            patient=patient,
            earliest=datetime.date(2026, 3, 2),
            latest=datetime.date(2026, 3, 9),
            time_ranges=[["8h", "noon"]],
        )
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_answers_give_the_slot_once(organization, freed):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    entries = _waiting(organization, 5)
    appointment_cancel(appointment=freed)
    recipients = list(SlotOfferRecipient.objects.all())
    barrier = threading.Barrier(len(recipients))
    outcomes = []

    def answer(recipient):
        try:
            barrier.wait()
            slot_offer_take(recipient=recipient)
            outcomes.append("won")
        except SlotGoneError:
            outcomes.append("gone")
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(r,)) for r in recipients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["gone"] * (len(entries) - 1) + ["won"]
    booked = Appointment.objects.filter(starts_at=SLOT).exclude(pk=freed.pk)
    assert booked.count() == 1


def test_a_patient_joins_and_leaves_the_waitlist_in_the_portal(
    client, organization, site
):
    patient = PatientFactory(
        organization=organization, user=UserFactory(username="waiting")
    )
    client.force_login(patient.user)
    patient_client = client
    url = reverse("portal:waitlist")
    response = patient_client.post(
        url,
        {
            "site": str(site.pk),
            "earliest": "2026-03-02",
            "latest": "2026-03-20",
            "moment": "morning",
        },
    )
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(patient=patient)
    assert (entry.site, entry.time_ranges) == (site, [["08:00", "12:00"]])
    # a date range backwards is a clear error on the page, nothing stored
    page = patient_client.post(
        url,
        {"site": "", "earliest": "2026-03-20", "latest": "2026-03-02", "moment": "any"},
    )
    assert page.status_code == 200
    assert page.context["form"].errors
    assert WaitlistEntry.objects.filter(patient=patient).count() == 1
    patient_client.post(reverse("portal:waitlist_leave", args=[entry.public_id]))
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.WITHDRAWN


def _sms(patient, text="OUI"):
    from messaging.inbound import InboundSms

    return InboundSms(patient, text, str(patient.phone), "twilio", "SM-1")


def _reminded(patient):
    """A reminder sent by SMS to ``patient`` now, for an appointment in 2 days."""
    from outreach.reminders.planner import reminders_send_due
    from tests.outreach.reminders_factories import ReminderRuleFactory, book

    topic = TopicFactory._meta.model.objects.get(
        organization=patient.organization, slug="appointment-reminders"
    )
    for language in ("fr", "en"):
        for channel in ("sms", "inapp"):
            TemplateFactory(
                topic=topic, channel=channel, language=language, body="Reply C"
            )
    ReminderRuleFactory(organization=patient.organization, topic=topic, offsets="48h")
    start = timezone.now() + datetime.timedelta(days=2)
    with time_machine.travel(timezone.now() - datetime.timedelta(days=3), tick=False):
        appointment = book(patient, start)
    assert reminders_send_due() == 1
    return appointment


def test_oui_answers_the_offer_when_it_came_after_the_reminder(organization, freed):
    from outreach.waitlist.services import slot_offer_sms_answer

    [entry] = _waiting(organization)
    with time_machine.travel(NOW - datetime.timedelta(hours=2), tick=False):
        _reminded(entry.patient)
    appointment_cancel(appointment=freed)  # the offer, at NOW
    assert slot_offer_sms_answer(_sms(entry.patient))
    assert Appointment.objects.filter(patient=entry.patient, starts_at=SLOT).exists()


def test_oui_is_left_to_the_reminder_when_it_came_after_the_offer(organization, freed):
    from outreach.waitlist.services import slot_offer_sms_answer

    [entry] = _waiting(organization)
    with time_machine.travel(NOW - datetime.timedelta(hours=2), tick=False):
        appointment_cancel(appointment=freed)  # the offer, two hours ago
    _reminded(entry.patient)  # the reminder, now
    assert not slot_offer_sms_answer(_sms(entry.patient))
    assert not Appointment.objects.filter(
        patient=entry.patient, starts_at=SLOT
    ).exists()
