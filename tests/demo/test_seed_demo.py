"""seed_demo loads a usable demo once, and only where DEBUG is on."""

import datetime
import re
import zoneinfo

import pytest
import time_machine

from django.core.management import CommandError, call_command
from django.utils import formats, translation

from clinic.models import Appointment, Organization, Patient, StaffMember, VisitType
from consent.models import ConsentEvent, Topic
from messaging.models import Message
from outreach.reminders.models import Reminder

pytestmark = pytest.mark.django_db


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Organization,
            Patient,
            Appointment,
            StaffMember,
            Topic,
            ConsentEvent,
            Message,
            Reminder,
        )
    }


def test_seed_demo_is_idempotent(settings):
    # given
    settings.DEBUG = True
    call_command("seed_demo", stdout=None)
    first = counts()
    # when
    call_command("seed_demo")
    # then
    assert counts() == first
    assert first["Organization"] == 2
    assert first["Patient"] >= 60
    assert first["Topic"] == 18
    assert first["ConsentEvent"] > 0


def test_seed_demo_covers_both_languages_and_valid_contacts(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    for organization in Organization.objects.all():
        patients = Patient.objects.for_organization(organization)
        assert set(patients.values_list("preferred_language", flat=True)) == {
            "fr",
            "en",
        }
        for patient in patients:
            assert patient.phone.is_valid()
            patient.full_clean()
    assert {o.time_zone for o in Organization.objects.all()} == {
        "Europe/Paris",
        "America/New_York",
    }


def test_each_demo_clinic_sends_from_its_own_number_with_every_provider(settings):
    """So `make run` with a provider backend routes replies to the right clinic."""
    from messaging.models import SenderIdentity

    # when
    settings.DEBUG = True
    call_command("seed_demo")
    # then
    identities = SenderIdentity.objects.select_related("organization")
    assert {(i.organization.slug, i.provider) for i in identities} == {
        (slug, provider)
        for slug in ("clinique-des-lilas", "riverside-family-practice")
        for provider in ("twilio", "sinch")
    }
    numbers = {i.organization_id: str(i.phone_number) for i in identities}
    assert len(set(numbers.values())) == 2
    for identity in identities:
        identity.full_clean()


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG=true"):
        call_command("seed_demo")
    assert not Organization.objects.exists()


DATE = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?")


def _local(appointment: Appointment, patient: Patient) -> tuple[str, str]:
    """The appointment's date and time as the patient reads them."""
    zone = zoneinfo.ZoneInfo(patient.time_zone or patient.organization.time_zone)
    local = appointment.starts_at.astimezone(zone)
    with translation.override(patient.preferred_language):
        return (
            formats.date_format(local, "SHORT_DATE_FORMAT"),
            formats.time_format(local, "TIME_FORMAT"),
        )


def _texts(message: Message) -> list[str]:
    return [message.body] + [
        f"{d.subject}\n{d.body}" for d in message.deliveries.exclude(body="")
    ]


@time_machine.travel(
    datetime.datetime(2026, 12, 6, 9, 0, tzinfo=datetime.UTC), tick=False
)
def test_demo_reminders_name_their_appointments_local_date_and_time(settings):
    """Every demo reminder, of the ninety days of history and of now, gives
    its appointment's date and time as the patient reads them (their zone,
    their language), in the message and in what each channel carries; no
    other date. Any other demo message names only dates of the patient's
    own appointments (an answer to a reminder)."""
    settings.DEBUG = True
    call_command("seed_demo")
    reminders = Reminder.objects.filter(status="sent").select_related(
        "message__patient__organization", "appointment"
    )
    assert reminders.count() > 100
    for reminder in reminders:
        patient = reminder.message.patient
        date, time = _local(reminder.appointment, patient)
        for text in _texts(reminder.message):
            assert date in text, text
            assert time in text, text
            assert set(DATE.findall(text)) == {date}
    now = Message.objects.filter(idempotency_key__startswith="demo-reminder-")
    assert now.count() == 8  # sent now: four patients in each clinic
    others = Message.objects.exclude(pk__in=reminders.values("message_id"))
    for message in others.select_related("patient__organization"):
        patient = message.patient
        dates = {
            _local(appointment, patient)[0]
            for appointment in Appointment.objects.filter(patient=patient)
        }
        for text in _texts(message):
            assert set(DATE.findall(text)) <= dates, text


def test_demo_appointments_say_who_what_where_and_how_to_prepare(settings):
    # given
    settings.DEBUG = True
    # when
    call_command("seed_demo")
    # then
    for organization in Organization.objects.all():
        appointments = Appointment.objects.for_organization(organization)
        assert not appointments.filter(practitioner=None).exists()
        assert not appointments.filter(kind="").exists()
        assert not appointments.filter(site__address="").exists()
        assert appointments.exclude(preparation_notes="").exists()


def _staff_named(organization):
    """What the demo names for staff, by the organization's slug."""
    from api.models import ApiKey
    from clinic.models import Team
    from feedback.models import Survey
    from outreach.reminders.models import ReminderRule

    return {
        "teams": set(
            Team.objects.filter(organization=organization).values_list(
                "name", flat=True
            )
        ),
        "surveys": set(
            Survey.objects.filter(organization=organization).values_list(
                "name", flat=True
            )
        ),
        "rules": set(
            ReminderRule.objects.filter(organization=organization).values_list(
                "name", flat=True
            )
        ),
        "keys": set(
            ApiKey.objects.filter(organization=organization).values_list(
                "name", flat=True
            )
        ),
        "staff": set(
            StaffMember.objects.filter(organization=organization).values_list(
                "user__first_name", flat=True
            )
        ),
        "kinds": set(
            Appointment.objects.filter(organization=organization).values_list(
                "kind", flat=True
            )
        ),
    }


FRENCH_DEMO = {
    "teams": {"Relations patients"},
    "surveys": {"Après votre visite"},
    "rules": {"Rappels de rendez-vous", "Dernier rappel si non confirmé"},
    "keys": {"Partenaire de démonstration"},
    "staff": {
        "Administratrice",
        "Coordinatrice",
        "Clinicienne",
        "Accueil",
        "Communication",
    },
    "kinds": {"consultation", "suivi", "vaccination"},
}
ENGLISH_DEMO = {
    "teams": {"Patient relations"},
    "surveys": {"After your visit"},
    "rules": {"Appointment reminders", "Last call if not confirmed"},
    "keys": {"Demo partner"},
    "staff": {"Admin", "Coordinator", "Clinician", "Support", "Marketing"},
    "kinds": {"consultation", "follow-up", "vaccination"},
}


def test_the_french_clinic_names_its_demo_data_in_french(settings):
    """Staff of the French clinic read French names in admin (teams, surveys,
    reminder rules, API keys, colleagues, visit types); the US clinic's are
    English; topics have a name in each language."""
    # given
    settings.DEBUG = True
    # when
    call_command("seed_demo")
    # then
    lilas = Organization.objects.get(slug="clinique-des-lilas")
    riverside = Organization.objects.get(slug="riverside-family-practice")
    assert _staff_named(lilas) == FRENCH_DEMO
    assert _staff_named(riverside) == ENGLISH_DEMO
    topics = Topic.objects.for_organization(lilas)
    assert topics.get(slug="surveys").name("fr") == "Enquêtes de satisfaction"
    assert topics.get(slug="surveys").name("en") == "Satisfaction surveys"
    assert not topics.filter(name_fr="").exists()
    assert not topics.filter(name_en="").exists()
    # Every demo kind has a name in both languages for patients to read.
    for organization in (lilas, riverside):
        catalogue = VisitType.objects.for_organization(organization)
        assert (
            set(catalogue.values_list("code", flat=True))
            == _staff_named(organization)["kinds"]
        )
    assert (
        VisitType.objects.get(organization=riverside, code="follow-up").name("fr")
        == "Consultation de suivi"
    )


def test_a_demo_seeded_in_english_is_renamed_not_duplicated(settings):
    """A database seeded when the demo named everything in English keeps one
    row of each, now in French, when the demo runs again."""
    from api.models import ApiKey
    from clinic.models import Team
    from feedback.models import Survey
    from outreach.reminders.models import ReminderRule

    # given
    settings.DEBUG = True
    call_command("seed_demo")
    lilas = Organization.objects.get(slug="clinique-des-lilas")
    Team.objects.filter(organization=lilas).update(name="Patient relations")
    Survey.objects.filter(organization=lilas).update(name="After your visit")
    rules = ReminderRule.objects.filter(organization=lilas)
    rules.filter(only_if_unconfirmed=False).update(name="Appointment reminders")
    rules.filter(only_if_unconfirmed=True).update(name="Last call if not confirmed")
    ApiKey.objects.filter(organization=lilas).update(name="Demo partner")
    for member in StaffMember.objects.filter(organization=lilas).select_related("user"):
        member.user.first_name = member.role.capitalize()
        member.user.save()
    before = (
        Team.objects.count(),
        Survey.objects.count(),
        ReminderRule.objects.count(),
    )
    # when
    call_command("seed_demo")
    # then
    after = (Team.objects.count(), Survey.objects.count(), ReminderRule.objects.count())
    assert after == before
    assert _staff_named(lilas) == FRENCH_DEMO


def test_each_demo_clinic_has_its_branding_and_keeps_an_operators_own(settings):
    from clinic.branding import logo_inspect, validate_accent_colour
    from clinic.models import OrganizationLogo

    # given
    settings.DEBUG = True
    call_command("seed_demo")
    # then: a sender name, an accent that passes WCAG 2.2 AA, a real PNG logo
    for organization in Organization.objects.all():
        assert organization.sender_name not in ("", organization.name)
        validate_accent_colour(organization.accent_colour)
        logo = OrganizationLogo.objects.get(organization=organization)
        assert logo_inspect(bytes(logo.image)).content_type == "image/png"
        assert organization.logo_hash == logo.sha256
    # when: an operator picks another colour, and the demo is loaded again
    Organization.objects.filter(slug="clinique-des-lilas").update(
        accent_colour="#767676"
    )
    call_command("seed_demo")
    # then
    lilas = Organization.objects.get(slug="clinique-des-lilas")
    assert lilas.accent_colour == "#767676"
    assert OrganizationLogo.objects.count() == 2
