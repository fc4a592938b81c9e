"""seed_demo loads a usable demo once, and only where DEBUG is on."""

import pytest

from django.core.management import CommandError, call_command

from clinic.models import Appointment, Organization, Patient, StaffMember
from consent.models import ConsentEvent, Topic

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
