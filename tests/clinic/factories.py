import datetime

import factory
from factory.django import DjangoModelFactory

from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.models import (
    Appointment,
    Caregiver,
    Organization,
    Patient,
    Site,
    StaffMember,
)


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    time_zone = "Europe/Paris"
    default_language = "fr"
    country = "FR"
    contact_email = "contact@clinic.example.org"


class SiteFactory(DjangoModelFactory):
    class Meta:
        model = Site

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Site {n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw")


class StaffMemberFactory(DjangoModelFactory):
    class Meta:
        model = StaffMember

    user = factory.SubFactory(UserFactory, is_staff=True)
    organization = factory.SubFactory(OrganizationFactory)
    role = StaffMember.Role.ADMIN


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = Patient

    organization = factory.SubFactory(OrganizationFactory)
    identifier = factory.Sequence(lambda n: f"P-{n:05d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    birth_date = datetime.date(1980, 5, 17)
    preferred_language = factory.SelfAttribute("organization.default_language")
    time_zone = factory.SelfAttribute("organization.time_zone")
    email = factory.Sequence(lambda n: f"patient{n}@example.org")
    phone = factory.Sequence(lambda n: f"+33612{n % 1000000:06d}")


class CaregiverFactory(DjangoModelFactory):
    class Meta:
        model = Caregiver

    user = factory.SubFactory(UserFactory)
    patient = factory.SubFactory(PatientFactory)
    relationship = Caregiver.Relationship.PARENT


class AppointmentFactory(DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    site = factory.SubFactory(
        SiteFactory, organization=factory.SelfAttribute("..organization")
    )
    kind = "consultation"
    starts_at = factory.LazyFunction(
        lambda: timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    )
    ends_at = factory.LazyAttribute(
        lambda a: a.starts_at + datetime.timedelta(minutes=30)
    )
