"""Consent rules and random patient populations for the consent tests that
compare ``decide`` with its bulk and property-based forms."""

import datetime

from consent import limits, services
from consent.policy import Rules
from tests.clinic.factories import PatientFactory
from tests.consent.factories import TopicFactory

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def rules_fixture(**overrides) -> Rules:
    from consent.models import default_voice_windows
    from consent.policy import VoiceWindow, parse_clock_pair
    from consent.vocabulary import priority_class

    values = {
        "topic_id": 1,
        "purpose": "care",
        "channels": frozenset({"inapp", "email", "sms", "voice"}),
        "urgent": False,
        "country": "FR",
        "send_from": datetime.time(8),
        "send_until": datetime.time(21),
        "urgent_send_from": datetime.time(7),
        "urgent_send_until": datetime.time(22, 30),
        "marketing_on_sundays": False,
        "marketing_on_holidays": False,
        "voice_windows": tuple(
            VoiceWindow(frozenset(w["days"]), *parse_clock_pair(w["start"], w["end"]))
            for w in default_voice_windows()
        ),
        "marketing_per_week": 2,
        "care_cap": None,
        "care_cap_days": 1,
        "survey_every_days": 90,
        "fatigue_budget": 6,
        "fatigue_budget_days": 7,
        "duplicate_window_hours": 24,
    }
    values |= overrides
    values.setdefault(
        "priority",
        priority_class(purpose=values["purpose"], urgent=values["urgent"]),
    )
    return Rules(**values)


def build_random_population(organization, rng, size):
    """Patients with mixed contact points, preferences, consent events and history."""
    topics = [
        TopicFactory(organization=organization, slug=f"{purpose}-mix", purpose=purpose)
        for purpose in ("care", "marketing", "feedback", "security")
    ]
    patients = []
    for n in range(size):
        patient = PatientFactory.build(
            organization=organization,
            time_zone=rng.choice(["Europe/Paris", "America/New_York"]),
            email=rng.choice(["", f"p{n}@example.org"]),
            phone=rng.choice(["", "+33612345678", "+33142000000"]),
        )
        from clinic.services import patient_save

        patient = patient_save(patient=patient)
        patients.append(patient)
        preferences = services.preferences_get(patient=patient)
        if rng.random() < 0.3:
            preferences.send_from, preferences.send_until = (
                datetime.time(9),
                datetime.time(19),
            )
        if rng.random() < 0.3:
            preferences.marketing_per_week = rng.randrange(0, 3)
        preferences.phone_verified_at = START if rng.random() < 0.5 else None
        preferences.email_invalid_at = START if rng.random() < 0.1 else None
        preferences.save()
        for _ in range(rng.randrange(4)):
            target = rng.choice(
                [
                    {"purpose": rng.choice(["care", "marketing", "feedback"])},
                    {"topic": rng.choice(topics[:3])},
                ]
            )
            channel = rng.choice(["", "email", "sms", "voice"])
            services.consent_record(
                patient=patient,
                granted=rng.random() < 0.6,
                source="portal",
                channel=channel,
                occurred_at=START + datetime.timedelta(days=rng.randrange(300)),
                **target,
            )
        for m in range(rng.randrange(6)):
            limits.send_record(
                patient=patient,
                topic=rng.choice(topics),
                channel="inapp",
                message_key=f"{n}-{m}",
                content_hash=rng.choice(["h1", "h2", ""]),
                sent_at=START
                + datetime.timedelta(days=rng.randrange(300), hours=rng.randrange(24)),
            )
    return patients, topics
