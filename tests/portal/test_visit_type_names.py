"""Patients read their visit type in their language: the clinic's catalogue
names the booking system's kind on the appointment cards and in the printable
summary; a kind the catalogue lacks is shown as sent."""

import datetime
import re

import pytest
import time_machine

from django.urls import reverse

from clinic.models import VisitType
from tests.clinic.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def visits(patient_user):
    _, patient = patient_user
    VisitType.objects.create(
        organization=patient.organization,
        code="suivi",
        name_fr="Consultation de suivi",
        name_en="Follow-up visit",
    )
    starts = NOW + datetime.timedelta(days=3)
    return [
        AppointmentFactory(
            patient=patient,
            kind=kind,
            starts_at=starts + datetime.timedelta(days=index),
            ends_at=starts + datetime.timedelta(days=index, minutes=30),
        )
        for index, kind in enumerate(["suivi", "Échographie"])
    ]


def kinds_on_cards(html: str) -> list[str]:
    return re.findall(r'<dd class="appointment-kind">(.*?)</dd>', html)


@pytest.mark.parametrize(
    ("language", "named"),
    [("fr", "Consultation de suivi"), ("en", "Follow-up visit")],
)
def test_the_cards_name_the_visit_type_in_the_patients_language(
    patient_client, visits, language, named
):
    patient_client.cookies["django_language"] = language
    response = patient_client.get(reverse("portal:appointments"))
    assert kinds_on_cards(response.text) == [named, "Échographie"]


def test_the_patients_own_language_applies_without_a_chosen_one(
    patient_client, patient_user, visits
):
    _, patient = patient_user
    patient.preferred_language = "en"
    patient.save()
    response = patient_client.get(reverse("portal:appointments"))
    assert kinds_on_cards(response.text)[0] == "Follow-up visit"


@pytest.mark.parametrize(
    ("language", "named"),
    [("fr", "Consultation de suivi"), ("en", "Follow-up visit")],
)
def test_the_printable_summary_names_the_visit_type(
    patient_client, visits, language, named
):
    patient_client.cookies["django_language"] = language
    response = patient_client.get("/portal/data/summary/")
    assert response.status_code == 200
    assert named in response.text
    assert "Échographie" in response.text
    assert ">Suivi<" not in response.text
