"""decide_many: the same answers as decide, for many patients in few queries."""

import datetime
import random

import pytest

from clinic.models import Patient
from consent import limits, services
from consent.errors import ConsentError
from consent.policy import Rules
from consent.selectors import decide, decide_many, iter_decisions
from tests.clinic.factories import OrganizationFactory, PatientFactory
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


@pytest.mark.django_db
def test_decide_many_takes_a_few_queries_whatever_the_size(
    organization, django_assert_max_num_queries
):
    rng = random.Random(3)
    _, topics = build_random_population(organization, rng, size=30)
    services.policy_get(organization=organization)
    topic = topics[1]
    with django_assert_max_num_queries(5):
        decisions = decide_many(
            Patient.objects.for_organization(organization), topic, "email", START
        )
    assert len(decisions) == 30


@pytest.mark.django_db
def test_decide_many_accepts_ids_patients_and_batches(organization):
    rng = random.Random(5)
    patients, topics = build_random_population(organization, rng, size=12)
    at = START + datetime.timedelta(days=200, hours=10)
    by_objects = decide_many(patients, topics[0], "sms", at)
    by_ids = decide_many([p.pk for p in patients], topics[0], "sms", at)
    batched = dict(iter_decisions(patients, topics[0], "sms", at, batch_size=5))
    assert by_objects == by_ids == batched
    assert by_objects[patients[0].pk] == decide(patients[0], topics[0], "sms", at)


@pytest.mark.django_db
def test_decide_many_refuses_another_organizations_patient(organization):
    topic = TopicFactory(organization=organization, slug="care-x", purpose="care")
    stranger = PatientFactory(organization=OrganizationFactory(slug="elsewhere"))
    with pytest.raises(ConsentError, match="another organization"):
        decide_many([stranger], topic, "sms", START)
    with pytest.raises(ConsentError, match="Unknown channel"):
        decide_many([], topic, "pigeon", START)


@pytest.mark.django_db
def test_queryset_batches_ignore_other_patients_in_the_id_range(organization):
    """Related rows are fetched by id range; other organizations' rows in it are not used."""
    other = OrganizationFactory(slug="interleaved")
    topic = TopicFactory(organization=organization, slug="news", purpose="marketing")
    mine, theirs = [], []
    for n in range(6):
        mine.append(PatientFactory(organization=organization))
        theirs.append(PatientFactory(organization=other))
        if n % 2 == 0:
            services.consent_grant(
                patient=mine[-1], purpose="marketing", source="portal"
            )
        services.consent_grant(patient=theirs[-1], purpose="marketing", source="portal")
    at = START + datetime.timedelta(days=300, hours=10)
    decisions = dict(
        iter_decisions(
            Patient.objects.for_organization(organization),
            topic,
            "inapp",
            at,
            batch_size=4,
        )
    )
    assert set(decisions) == {p.pk for p in mine}
    assert decisions == {p.pk: decide(p, topic, "inapp", at) for p in mine}
