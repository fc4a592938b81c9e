"""Consent decisions: decide_many over 100,000 patients vs decide one by one.

Prints one JSON line: patients, seconds, decisions_per_second (decide_many over
every patient), one_by_one_per_second (decide on 2,000 of them), vendor.
Run: DATABASE_URL=postgres://… .venv/bin/python bench/consent_decide.py [--scale 0.01]
"""

import datetime
import random

from harness import Timer, bench_database, emit, log, parse_args, setup_django

PATIENTS = 100_000
ONE_BY_ONE = 2_000


def build(n_patients: int, rng: random.Random):
    from clinic.models import Organization, Patient
    from consent.models import (
        ConsentEvent,
        ConsentState,
        PatientPreferences,
        SendRecord,
        Topic,
    )

    organization = Organization.objects.create(
        name="Bench",
        slug="bench",
        time_zone="Europe/Paris",
        default_language="fr",
        country="FR",
    )
    topics = {
        purpose: Topic.objects.create(
            organization=organization,
            slug=purpose,
            name_en=purpose,
            name_fr=purpose,
            purpose=purpose,
            channels=["inapp", "email", "sms", "voice"],
        )
        for purpose in ("care", "marketing", "feedback")
    }
    zones = ["Europe/Paris", "America/New_York"]
    Patient.objects.bulk_create(
        (
            Patient(
                organization=organization,
                identifier=f"B{n:07d}",
                given_name="Bench",
                family_name=f"Patient{n}",
                birth_date=datetime.date(1980, 1, 1),
                preferred_language=rng.choice(["fr", "en"]),
                time_zone=rng.choice(zones),
                email=f"p{n}@example.org" if rng.random() < 0.9 else "",
                phone=f"+3361{n:07d}" if rng.random() < 0.8 else "",
                phone_is_mobile=True,
            )
            for n in range(n_patients)
        ),
        batch_size=5000,
    )
    ids = list(Patient.objects.values_list("id", flat=True))
    PatientPreferences.objects.bulk_create(
        (
            PatientPreferences(
                patient_id=pid,
                send_from=datetime.time(9) if rng.random() < 0.5 else None,
                send_until=datetime.time(19) if rng.random() < 0.5 else None,
                marketing_per_week=rng.choice([None, 0, 1, 3]),
            )
            for pid in ids
            if rng.random() < 0.4
        ),
        batch_size=5000,
    )
    PatientPreferences.objects.filter(send_from__isnull=True).update(send_until=None)
    PatientPreferences.objects.filter(send_until__isnull=True).update(send_from=None)
    now = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)
    events = []
    for pid in ids:
        if rng.random() < 0.5:
            events.append(
                ConsentEvent(
                    patient_id=pid,
                    purpose="marketing",
                    action=rng.choice(["granted", "withdrawn"]),
                    source="import",
                    channel=rng.choice(["", "email", "sms"]),
                    occurred_at=now - datetime.timedelta(days=rng.randrange(1, 300)),
                )
            )
    ConsentEvent.objects.bulk_create(events, batch_size=5000)
    ConsentState.objects.bulk_create(
        (
            ConsentState(
                patient_id=e.patient_id,
                scope="purpose:marketing",
                channel=e.channel or "*",
                granted=e.action == "granted",
                event_id=e.pk,
                occurred_at=e.occurred_at,
            )
            for e in ConsentEvent.objects.all().iterator(chunk_size=5000)
        ),
        batch_size=5000,
        ignore_conflicts=True,
    )
    SendRecord.objects.bulk_create(
        (
            SendRecord(
                patient_id=pid,
                topic=topics[purpose],
                purpose=purpose,
                channel="email",
                message_key=f"{pid}-{k}",
                content_hash="",
                sent_at=now - datetime.timedelta(hours=rng.randrange(1, 24 * 10)),
            )
            for pid in ids
            for k, purpose in enumerate(
                rng.choices(["care", "marketing", "feedback"], k=rng.randrange(3))
            )
        ),
        batch_size=5000,
    )
    return organization, topics["marketing"], now


def main() -> None:
    args = parse_args(__doc__)
    setup_django()
    n_patients = max(10, int(PATIENTS * args.scale))
    one_by_one = max(10, int(ONE_BY_ONE * args.scale))
    with bench_database("consent_decide") as vendor:
        from django.db import connection

        from clinic.models import Patient
        from consent.selectors import decide, decide_many

        rng = random.Random(42)
        with Timer() as building:
            organization, topic, at = build(n_patients, rng)
        log(f"built {n_patients} patients in {building.seconds:.1f} s on {vendor}")
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        patients = Patient.objects.for_organization(organization)
        decide_many(patients[:100], topic, "email", at)  # warm caches (zones, policy)
        runs = []
        for _ in range(3):
            with Timer() as timer:
                decisions = decide_many(patients, topic, "email", at)
            runs.append(timer.seconds)
        seconds = sorted(runs)[1]
        if len(decisions) != n_patients:
            raise SystemExit(f"expected {n_patients} decisions, got {len(decisions)}")
        sample = list(
            Patient.objects.for_organization(organization).order_by("?")[:one_by_one]
        )
        with Timer() as slow:
            for patient in sample:
                decide(patient, topic, "email", at)
        outcomes: dict[str, int] = {}
        for decision in decisions.values():
            key = decision.reason or decision.outcome
            outcomes[key] = outcomes.get(key, 0) + 1
        log(f"outcomes: {outcomes}")
        emit(
            {
                "patients": n_patients,
                "seconds": round(seconds, 3),
                "decisions_per_second": round(n_patients / seconds),
                "one_by_one_per_second": round(one_by_one / slow.seconds),
                "vendor": vendor,
            }
        )


if __name__ == "__main__":
    main()
