"""The appointments page says what patients ask: when (in their zone), with
whom, what kind of visit, where (with the address) and how to prepare; one
primary action (Confirm), Cancel and Add to my calendar apart; cancelled
appointments out of "Upcoming"."""

import datetime
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine

from django.urls import reverse
from django.utils import formats, translation

from clinic.models import Appointment
from messaging.variables import VARIABLES
from outreach.reminders.planner import appointment_reminder_context
from tests.clinic.factories import AppointmentFactory, SiteFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
STARTS = datetime.datetime(2026, 12, 12, 11, 45, tzinfo=datetime.UTC)  # 12:45 Paris


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def appointment(patient_user):
    _, patient = patient_user
    site = SiteFactory(
        organization=patient.organization,
        name="Lilas Belleville",
        address="12 rue des Lilas\n75020 Paris",
    )
    practitioner = StaffMemberFactory(
        organization=patient.organization,
        user__username="dr.moreau",
        user__first_name="Claire",
        user__last_name="Moreau",
        role="clinician",
    )
    return AppointmentFactory(
        patient=patient,
        site=site,
        practitioner=practitioner,
        kind="Vaccination",
        preparation_notes="Bring your vaccination booklet.",
        starts_at=STARTS,
        ends_at=STARTS + datetime.timedelta(minutes=30),
    )


def section(html: str, heading: str) -> str:
    """The HTML from an <h2> to the next one (or the end)."""
    match = re.search(rf"<h2>{re.escape(heading)}</h2>(.*?)(?=<h2>|$)", html, re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


@pytest.mark.parametrize(
    ("language", "upcoming", "confirm", "cancel", "calendar", "labels"),
    [
        (
            "fr",
            "À venir",
            "Confirmer",
            "Annuler ce rendez-vous",
            "Ajouter à mon agenda",
            ("Avec", "Type de consultation", "Lieu", "Avant de venir"),
        ),
        (
            "en",
            "Upcoming",
            "Confirm",
            "Cancel this appointment",
            "Add to my calendar",
            ("With", "Visit type", "Place", "Before you come"),
        ),
    ],
)
def test_an_upcoming_card_says_what_patients_ask(
    patient_client, appointment, language, upcoming, confirm, cancel, calendar, labels
):
    # given
    patient_client.cookies["django_language"] = language
    local = STARTS.astimezone(ZoneInfo("Europe/Paris"))
    with translation.override(language):
        shown_time = formats.time_format(local, "TIME_FORMAT")
    # when
    response = patient_client.get(reverse("portal:appointments"))
    # then
    card = section(response.text, upcoming)
    assert f'lang="{language}"' in response.text
    assert shown_time in card
    assert "12:45" in shown_time.replace("h", ":")  # 11:45 UTC, in Paris
    for label in labels:
        assert f"<dt>{label}</dt>" in card
    assert "Claire Moreau" in card
    assert "Vaccination" in card
    assert "Lilas Belleville" in card
    assert "12 rue des Lilas<br>75020 Paris" in card
    assert "Bring your vaccination booklet." in card
    # One primary action: Confirm, posted with the CSRF token.
    assert card.count("primary") == 1
    confirm_form = re.search(r"<form[^>]*>.*?</form>", card, re.S).group(0)
    assert 'method="post"' in confirm_form
    assert (
        reverse("portal:appointment_confirm", args=[appointment.public_id])
        in confirm_form
    )
    assert "csrfmiddlewaretoken" in confirm_form
    # Each control names its appointment to a screen reader (several cards).
    described = f'aria-describedby="appointment-{appointment.public_id}-when"'
    assert f'id="appointment-{appointment.public_id}-when"' in card
    assert f'class="button primary" {described}>{confirm}</button>' in confirm_form
    # Cancel and Add to my calendar: separate links, neither primary.
    cancel_url = reverse("portal:appointment_cancel", args=[appointment.public_id])
    calendar_url = reverse("portal:appointment_calendar", args=[appointment.public_id])
    assert re.search(
        rf'<a class="appointment-cancel" href="{cancel_url}" {described}>{cancel}</a>',
        card,
    )
    assert re.search(
        rf'<a class="button secondary appointment-calendar" '
        rf'href="{calendar_url}" download {described}>{calendar}</a>',
        card,
    )


@pytest.mark.parametrize(
    ("language", "upcoming", "cancelled"),
    [("fr", "À venir", "Annulés"), ("en", "Upcoming", "Cancelled")],
)
def test_a_cancelled_appointment_leaves_upcoming(
    patient_client, appointment, language, upcoming, cancelled
):
    # given
    patient_client.cookies["django_language"] = language
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()
    # when
    response = patient_client.get(reverse("portal:appointments"))
    # then
    assert response.context["upcoming"] == []
    assert response.context["upcoming_cancelled"] == [appointment]
    assert "Lilas Belleville" not in section(response.text, upcoming)
    assert "Lilas Belleville" in section(response.text, cancelled)
    confirm_url = reverse("portal:appointment_confirm", args=[appointment.public_id])
    assert confirm_url not in response.text


def test_no_cancelled_section_without_cancelled_appointments(
    patient_client, appointment
):
    response = patient_client.get(reverse("portal:appointments"))
    assert "<h2>Annulés</h2>" not in response.text
    assert response.context["upcoming"] == [appointment]


def test_calendar_file_carries_place_address_and_preparation(
    patient_client, appointment
):
    # when
    response = patient_client.get(
        reverse("portal:appointment_calendar", args=[appointment.public_id])
    )
    # then
    event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == "Lilas Belleville, 12 rue des Lilas, 75020 Paris"
    assert str(event["DESCRIPTION"]) == "Bring your vaccination booklet."
    assert b"Vaccination" not in response.content  # the visit type stays out


def test_preparation_notes_stay_out_of_reminders(appointment):
    """SMS and email render only declared variables: the notes are not one."""
    context = appointment_reminder_context(appointment)
    assert context["site_name"] == "Lilas Belleville"
    assert not any("booklet" in str(value) for value in context.values())
    assert not any("preparation" in name for name in VARIABLES)
