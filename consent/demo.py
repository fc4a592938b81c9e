"""Demo topics, sending policies and a few consent choices (called by seed_demo)."""

import datetime

from django.utils import timezone

from clinic.models import Organization, Patient
from consent import services
from consent.models import ConsentEvent, Topic

ALL = ["inapp", "email", "sms", "voice"]
TOPICS = [
    # slug, English, French, purpose, channels, urgent
    (
        "appointment-reminders",
        "Appointment reminders",
        "Rappels de rendez-vous",
        "care",
        ALL,
        False,
    ),
    (
        "results-available",
        "Results available",
        "Résultats disponibles",
        "care",
        ["inapp", "email", "sms"],
        False,
    ),
    (
        "prescriptions",
        "Prescriptions",
        "Ordonnances",
        "care",
        ["inapp", "email", "sms"],
        False,
    ),
    ("billing", "Billing", "Facturation", "care", ["inapp", "email"], False),
    (
        "urgent-care",
        "Urgent care information",
        "Informations de soins urgentes",
        "care",
        ["inapp", "sms", "voice"],
        True,
    ),
    (
        "vaccination-campaigns",
        "Vaccination campaigns",
        "Campagnes de vaccination",
        "marketing",
        ALL,
        False,
    ),
    (
        "newsletter",
        "Newsletter and health tips",
        "Lettre d'information et conseils santé",
        "marketing",
        ["inapp", "email"],
        False,
    ),
    (
        "surveys",
        "Satisfaction surveys",
        "Enquêtes de satisfaction",
        "feedback",
        ["inapp", "email", "sms"],
        False,
    ),
    (
        "security-codes",
        "Security codes",
        "Codes de sécurité",
        "security",
        ["email", "sms"],
        False,
    ),
]


# Appointment reminders never give way to routine care under the budget.
ESSENTIAL = {"appointment-reminders"}


def seed(*, report) -> None:
    for organization in Organization.objects.filter(slug__in=_demo_slugs()):
        services.policy_get(organization=organization)
        topics = {}
        for slug, name_en, name_fr, purpose, channels, urgent in TOPICS:
            topic, created = Topic.objects.get_or_create(
                organization=organization,
                slug=slug,
                defaults={
                    "name_en": name_en,
                    "name_fr": name_fr,
                    "purpose": purpose,
                    "channels": channels,
                    "urgent": urgent,
                    "essential": slug in ESSENTIAL,
                },
            )
            report.count("topics", created)
            topics[slug] = topic
        _seed_choices(organization, topics, report)


def _demo_slugs() -> list[str]:
    from clinic.demo_data import ORGANIZATIONS

    return [spec.slug for spec in ORGANIZATIONS]


def _seed_choices(organization, topics, report) -> None:
    """Every third patient opted in to campaigns; every seventh said STOP by SMS."""
    patients = Patient.objects.for_organization(organization).order_by("identifier")
    already = set(
        ConsentEvent.objects.for_organization(organization).values_list(
            "patient_id", flat=True
        )
    )
    when = timezone.now() - datetime.timedelta(days=30)
    for index, patient in enumerate(patients):
        if patient.pk in already:
            continue
        preferences = services.preferences_get(patient=patient)
        preferences.email_verified_at = preferences.phone_verified_at = when
        preferences.save()
        if index % 3 == 0:
            services.consent_grant(
                patient=patient,
                purpose="marketing",
                source="portal",
                wording_version="demo-2026-01",
                occurred_at=when,
                actor_label="patient",
            )
            report.count("consent events", True)
        if index % 7 == 0:
            for purpose in ("care", "marketing", "feedback"):
                services.consent_withdraw(
                    patient=patient,
                    purpose=purpose,
                    channel="sms",
                    source="sms-keyword",
                    occurred_at=when + datetime.timedelta(days=1),
                    actor_label="SMS keyword",
                    evidence={"keyword": "STOP"},
                )
            report.count("consent events", True)
